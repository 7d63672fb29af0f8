"""The operator of the `tuneline_kubernetes_multinode` flavor (see multinode_step_operator)."""

from __future__ import annotations

from zenml.integrations.kubernetes.step_operators import KubernetesStepOperator

from tuneline.train.node import node_command


class MultiNodeKubernetesStepOperator(KubernetesStepOperator):
    def submit_with_allocation(self, info, entrypoint_command, environment,
                               allocated_resource_request) -> None:
        if self.get_settings(info).pod_count == 1:
            return super().submit_with_allocation(info, entrypoint_command, environment,
                                                  allocated_resource_request)
        command = node_command(list(entrypoint_command))
        # ZenML's guard lets several pods run only a step with a command; this is that command
        info = info.model_copy(update={"config": info.config.model_copy(update={"command": command})})
        return super().submit_with_allocation(info, command, environment, allocated_resource_request)

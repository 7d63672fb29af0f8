"""ZenML's Kubernetes step operator, for steps that train on several nodes.

ZenML 0.98 runs a step on several pods (`pod_count`: an Indexed Job with a headless service
that gives pod 0 a stable address, ZENML_KUBERNETES_MAIN_ADDRESS/PORT and
ZENML_KUBERNETES_POD_COUNT in every pod) only for command steps, which have no inputs or
outputs: a regular step on every pod would publish its outputs once per pod. This flavor
keeps everything else of ZenML's operator and changes only the pods' command to
`python -m tuneline.train.node -- <the step's entrypoint>`: pod 0 runs the step (its SFT or
DPO is node 0 of torchrun's rendezvous and alone publishes artifacts and metadata), the other
pods join that rendezvous and publish nothing.

Register: `tuneline stack register configs/stacks/kubernetes-multinode.yaml` (see its header).
"""

from __future__ import annotations

from zenml.integrations.kubernetes.flavors import KubernetesStepOperatorFlavor

FLAVOR = "tuneline_kubernetes_multinode"
class MultiNodeKubernetesStepOperatorFlavor(KubernetesStepOperatorFlavor):
    @property
    def name(self) -> str:
        return FLAVOR

    @property
    def implementation_class(self):
        # imported on use: it needs the kubernetes client (`zenml integration install
        # kubernetes`), which checking a recipe does not
        from tuneline.zenml_ext.multinode_operator import MultiNodeKubernetesStepOperator

        return MultiNodeKubernetesStepOperator

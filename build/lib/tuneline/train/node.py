"""The command of every pod (node) of a multi-node training job.

`python -m tuneline.train.node -- STEP ENTRYPOINT...`: the first node (index 0) runs the step
itself, whose training launches torchrun as node 0 of the rendezvous; every other node joins
that rendezvous (`distributed.follow`) and exits with torchrun's code. Without a command, the
node only follows (a hand-written job: the step runs elsewhere, reachable at MASTER_ADDR).
"""

from __future__ import annotations

import os
import shutil
import sys

from tuneline.train import distributed


def node_command(entrypoint_command: list[str]) -> list[str]:
    """Every pod's command: this module, then the step's own entrypoint. A bare `python`: the
    pod's image decides which interpreter (the multi-node step operator's pods)."""
    return ["python", "-m", "tuneline.train.node", "--", *entrypoint_command]


def node_index(env: dict[str, str]) -> int:
    return int(env.get("JOB_COMPLETION_INDEX") or env.get("NODE_RANK") or env.get("PET_NODE_RANK") or 0)


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    env = dict(os.environ)
    if command and node_index(env) == 0:
        # ZenML's entrypoint command starts with a bare `python`: this interpreter's
        if command[0] == "python":
            command[0] = sys.executable
        os.execv(shutil.which(command[0]) or command[0], command)
    return distributed.follow(env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""mlstack's policy pack: `pulumi preview --policy-pack policy` runs this (see the README,
"Guardrails"). The rules live in mlstack_policy/, one module per thing they check."""

import signal

from mlstack_policy.pack import main

# The engine ends the pack with SIGINT when the preview is done: exit at once, with no
# KeyboardInterrupt traceback from the server's threads in the preview's output.
signal.signal(signal.SIGINT, signal.SIG_DFL)
main()

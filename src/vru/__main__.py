"""``python -m vru``: the `vru` script."""

from vru.launch import main

main()

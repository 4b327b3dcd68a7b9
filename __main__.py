"""Pulumi runs this file; the program itself lives in the installed package."""

from mlstack.program import main

main()

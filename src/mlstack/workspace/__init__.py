"""The asset registry behind one interface: the local emulator and Azure ML."""

"""What the user runs and touches: the command line, the running service, the tray, `vcam ctl`,
config, setup, autostart and doctor."""

"""Lightning modules, data modules and the Trainer set-up of each stage (they receive a
logger, they do not build one), and export of trained models to safetensors."""

"""Zero-shot task heads from an assay's description (HyperCLIP, HyperLDM) over a hypernetwork head's latent codes."""

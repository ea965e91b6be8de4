"""What is immunology's own: MHC allele names, amino acids, peptides and their residue-template
graphs, the residue-positional peptide readout, the per-allele body adapter and percentile
calibration.  Everything else about peptides and alleles runs through the shared machinery: a
peptide is an input kind (:mod:`molprior.data.input_kinds`), an allele a task
(:mod:`molprior.data.mhc`), the MHC model a task model with a head per allele scored by the one
scorer (:mod:`molprior.meta.scorer`)."""

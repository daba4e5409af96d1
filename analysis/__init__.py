"""mdkit.analysis: MDAnalysis analyses of mdkit run folders."""

"""Hash matching: hash types, banks of known content, the exact and perceptual matcher, VICS and CSV files."""

"""Per-image header records and the readers behind them: fast raw reads of plain values, vendor private tags, the
Siemens CSA header, diffusion tags, and one record per frame of an enhanced multi-frame file."""

"""What architects and students look at (SPEC C8, C10): ``roofline`` (layers and networks against
an arch's roofs), ``sweep`` (design-space sweeps, resumable, local processes or Ray), ``report``
(one self-contained HTML file), ``timeline`` (reading and checking Chrome traces) and ``profile``
(one timing run kept whole for them). Modules import matplotlib lazily, so importing this package
stays cheap for the CLI."""

"""Recipe texts that several test modules build with."""

# NED from a folder `cifs` of GNoME-style CIF files: no band gaps (gap policy include), no DFT
# table, a licence and a source other than the sample's
NED_FROM_CIFS = """table = "ned"
[[structures]]
path = "cifs"
source = "GNoME-style structures"
licence = "CC-BY-NC-4.0"
cite = ["gnome"]
[screen]
gap_policy = "include"
"""

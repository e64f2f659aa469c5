"""landeff: land efficiency (亩均效益) of Chinese industrial parks.

Read a park's parcels (宗地), buildings, enterprise and contract tables; measure area in 亩, FAR and
building density; compute per-mu figures; grade enterprises A/B/C/D; flag idle and low-efficiency
land with the legal reason; and write maps, Excel lists and a report.

Examples
--------
>>> import landeff
>>> result = landeff.evaluate(**landeff.read_demo())
>>> result.summary["n_parcels"] == len(result.parcels)
True
"""

from .errors import CRSError, Diagnostics, InputError, LandeffError, PolicyError
from .io.landchina import read_landchina
from .pipeline import Result, evaluate, read_demo
from .policy import Policy, list_presets, load_policy
from .scenario import scenario

__version__ = "0.1.0"
__all__ = [
    "CRSError",
    "Diagnostics",
    "InputError",
    "LandeffError",
    "Policy",
    "PolicyError",
    "Result",
    "evaluate",
    "list_presets",
    "load_policy",
    "read_demo",
    "read_landchina",
    "scenario",
]

"""A seeded synthetic Thames Valley with known planted truth, written in partners' formats."""

from vru.synth.manifest import Manifest
from vru.synth.world import generate

__all__ = ["Manifest", "generate"]

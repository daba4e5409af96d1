import numpy as np
import pytest
from scipy.spatial.transform import Rotation


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def shake(atoms, rng, noise=0.1):
    """Randomly rotate and translate a copy of ``atoms`` and displace every atom
    by ``noise`` Å in a random direction."""
    out = atoms.copy()
    rotation = Rotation.random(random_state=rng).as_matrix()
    step = rng.normal(size=(len(out), 3))
    step *= noise / np.linalg.norm(step, axis=1)[:, None]
    out.positions = out.positions @ rotation.T + rng.uniform(-20, 20, 3) + step
    return out

"""Structure-side choices of contrastive pretraining: one registry, name -> how the crystal side is made.

The stoichiometry encoder is always trained; what it is matched against is
the ``structure_encoder`` choice (``PolySRLFeaturizer(structure_encoder=...)``,
``polysrl pretrain --structure-encoder``):

* ``"graph_network"`` -- the paper's species-agnostic graph network, trained jointly
  with the stoichiometry encoder at every step (Section 4.2, Appendix B.1).
* ``"graph_network_frozen"`` -- the same network trained jointly for ``warmup_epochs``,
  then frozen: its vector of every corpus structure is computed once and the remaining
  epochs train the stoichiometry encoder against those cached vectors (optionally
  refreshed by one joint epoch every ``refresh_every`` epochs). A cached epoch runs no
  crystal graph at all.
* ``"species_graph_network"`` -- a graph network whose atoms start from their element's
  embedding (the matscholar table of the stoichiometry side, through a linear layer)
  instead of one shared vector, so that the structure side is no longer many-to-many
  (the paper's Appendix, "One-to-many relationship"); trained jointly.
* ``"species_graph_network_frozen"`` -- the species-aware network with warm-up and cache.
* ``"chgnet"`` -- CHGNet's crystal feature vector (a foundation model of MP energies,
  forces and stresses, weights shipped in the ``chgnet`` wheel), cached from the first
  epoch, through a trainable linear projection to width F. Optional extra:
  ``pip install polysrl-sklearn[chgnet]``.

Examples
--------
>>> from polysrl_sklearn.structure_encoders import STRUCTURE_ENCODERS, get_structure_encoder
>>> list(STRUCTURE_ENCODERS)
['graph_network', 'graph_network_frozen', 'species_graph_network', 'species_graph_network_frozen', 'chgnet']
>>> get_structure_encoder("chgnet").external
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StructureEncoderChoice:
    """One structure-side choice.

    Attributes
    ----------
    name : str
        Registry name, stored in the model configuration.
    species_aware : bool
        Atoms start from their element embedding (needs atomic numbers in the graphs).
    frozen : bool
        After ``warmup_epochs`` joint epochs the encoder is frozen and its vectors cached.
    external : bool
        The vectors come from outside the network (a pretrained foundation model),
        cached from the first epoch; the network has only a projection on that side.
    description : str
    """

    name: str
    species_aware: bool
    frozen: bool
    external: bool
    description: str

    @property
    def cached(self) -> bool:
        """Whether (some) epochs train against cached structure vectors."""
        return self.frozen or self.external


#: Name -> :class:`StructureEncoderChoice`; the one registry of structure sides.
STRUCTURE_ENCODERS: dict[str, StructureEncoderChoice] = {c.name: c for c in [
    StructureEncoderChoice("graph_network", False, False, False,
                           "species-agnostic graph network trained jointly (the paper's method)"),
    StructureEncoderChoice("graph_network_frozen", False, True, False,
                           "the same, frozen and cached after warm-up epochs"),
    StructureEncoderChoice("species_graph_network", True, False, False,
                           "graph network whose atoms start from their element embedding, trained jointly"),
    StructureEncoderChoice("species_graph_network_frozen", True, True, False,
                           "the species-aware network, frozen and cached after warm-up epochs"),
    StructureEncoderChoice("chgnet", False, False, True,
                           "CHGNet crystal feature vectors (frozen foundation model; extra 'chgnet')"),
]}

#: The paper's structure side, the default.
DEFAULT_STRUCTURE_ENCODER = "graph_network"


def get_structure_encoder(name: str) -> StructureEncoderChoice:
    """The registry entry of ``name``; a ValueError lists the valid names."""
    try:
        return STRUCTURE_ENCODERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown structure_encoder {name!r}; choose one of {tuple(STRUCTURE_ENCODERS)}") from None

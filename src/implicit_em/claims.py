"""The claims the experiment suite measures, with the source documents' own words.

The theory is Oursland (2025), *Gradient Descent as Implicit EM in Distance-Based Neural
Models*, arXiv:2512.24780, and four companion notes. Each claim has an ID, our wording
(the testable statement), the notes it comes from, and a short quote of their words, so
that a report can show what was claimed next to what was measured. ``CLAIMS`` maps ID to
our wording; ``REGISTRY`` holds the full records; ``SOURCES`` names the documents.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "arXiv:2512.24780"
# The five source documents: key -> title. 003 is the paper; the others are the author's
# companion notes to it.
SOURCES: dict[str, str] = {
    "000": "Implicit EM in Neural Activations - Overview Notes",
    "001": "Layer-Wise Implicit EM",
    "002": "Why ReLU Breaks EM",
    "003": "Gradient Descent as Implicit EM in Distance-Based Neural Models",
    "004": "InfoMax as the Objective for Implicit EM",
}


@dataclass(frozen=True)
class Claim:
    """One claim: ``id``, our testable ``text``, the ``sources`` it comes from (keys of
    :data:`SOURCES`) and the sources' own ``words``."""

    id: str
    text: str
    sources: tuple[str, ...]
    words: str

    def source_label(self) -> str:
        """Where the claim comes from, by title: ``"Layer-Wise Implicit EM (note to
        arXiv:2512.24780)"``, or the paper itself ``"... Models (arXiv:2512.24780)"``."""
        return "; ".join(
            f"“{SOURCES[s]}” ({PAPER})" if s == "003" else f"“{SOURCES[s]}” (note to {PAPER})"
            for s in self.sources
        )


_CLAIMS = [
    Claim(
        "C1",
        "For L = log sum exp(-d), dL/dd_j = -r_j exactly.",
        ("003", "000"),
        "For any objective with log-sum-exp structure over distances or energies, the "
        "gradient with respect to each distance is exactly the negative posterior "
        "responsibility of the corresponding component.",
    ),
    Claim(
        "C2",
        "Cross-entropy clamps responsibilities to the targets: for -log r_y with "
        "r = softmax(-d), the distance-form gradient is y_j - r_j (logit form r_j - y_j).",
        ("003",),
        "cross-entropy classification, where supervision clamps responsibilities to targets.",
    ),
    Claim(
        "C3",
        "Attention weights are responsibilities conditioned on the query.",
        ("003",),
        "attention, where responsibilities are conditioned on queries",
    ),
    Claim(
        "C4",
        "Gradient descent on a mixture's LSE objective performs EM; "
        "EM mean step = gradient step preconditioned by Sigma/N_j.",
        ("003",),
        "gradient descent on such objectives performs expectation-maximization implicitly",
    ),
    Claim(
        "C5",
        "Two signed Gaussians give E[s|z] = tanh(m z / sigma^2).",
        ("000",),
        "Under a symmetric two-component Gaussian distance model ... the posterior "
        "expectation is E[s | z] = tanh(m z / sigma^2).",
    ),
    Claim(
        "C6",
        "Laplace distances give a soft-sign-like activation.",
        ("000",),
        "Laplace distances => soft-sign-like nonlinearities",
    ),
    Claim(
        "C7",
        "Heavy-tailed (Student-t) distances give slow-saturating odd functions.",
        ("000",),
        "Heavy-tailed distances (e.g. Student-t) => slow-saturating odd functions",
    ),
    Claim(
        "C8",
        "ReLU is the zero-temperature limit of soft competition.",
        ("002",),
        "ReLU can be interpreted as a limiting case of soft competition where the "
        "temperature goes to zero and one hypothesis always wins.",
    ),
    Claim(
        "C9",
        "ReLU units die and cannot recover; soft (tanh-like) units keep gradient everywhere.",
        ("002",),
        "Once a unit enters a regime where it outputs zero, it behaves as if the "
        "corresponding hypothesis has been permanently removed ... both hypotheses always "
        "retain nonzero responsibility, gradients never vanish completely.",
    ),
    Claim(
        "C10",
        "Without competition, hidden units learn redundant hyperplanes; "
        "competition forces specialisation.",
        ("001",),
        "Nothing prevents multiple hyperplanes from learning the same cut ... Output "
        "prototypes must specialize.",
    ),
    Claim(
        "C11",
        "Softmax without volume control collapses: one unit dominates.",
        ("001", "004"),
        "Softmax without regularization allows collapse - one unit dominates by growing "
        "weights unboundedly.",
    ),
    Claim(
        "C12",
        "InfoMax alone prevents both collapse modes (dead units and winner-take-all) "
        "with no extra regulariser.",
        ("004",),
        "InfoMax naturally prevents both collapse modes ... No additional regularization needed.",
    ),
    Claim(
        "C13",
        "InfoMax yields non-redundant, informative features on real data.",
        ("004",),
        "Does this actually produce non-redundant hyperplanes on real data?",
    ),
    Claim(
        "C14",
        "The Gaussian / decorrelation proxy is good enough; HSIC catches what it misses.",
        ("004",),
        "Decorrelation proxy ... Catches most redundancy. HSIC: For nonlinear dependence "
        "... More expensive. More thorough.",
    ),
    Claim(
        "C15",
        "Competitive activations keep expressiveness (many active regions) "
        "while adding competition.",
        ("001",),
        "An activation that introduces competition while preserving expressiveness would "
        "be valuable.",
    ),
    Claim(
        "C16",
        "Greedy layer-wise EM pretraining gives each layer specialised units; "
        "end-to-end fine-tuning may undo it.",
        ("001",),
        "Each layer's prototypes are forced to differentiate ... Fine-tuning may undo the "
        "specialization if the end-to-end loss doesn't preserve it.",
    ),
    Claim(
        "C17",
        "Internal EM structure exists only where LSE normalisation over alternatives exists.",
        ("002",),
        "Where log-sum-exp normalization over alternatives exists, EM is implicit.",
    ),
    Claim(
        "C18",
        "In z = Wx + b, r = softmax(-z) trained with InfoMax on z, gradients flow through "
        "the softmax and W receives responsibility-weighted updates.",
        ("004",),
        "Gradients flow through softmax to W. The chain rule delivers responsibility-"
        "weighted updates. This is the EM mechanism.",
    ),
    Claim(
        "C19",
        "K independent partitions create 2^K regions; InfoMax gives maximum regions, "
        "maximum expressiveness.",
        ("004",),
        "K independent binary partitions create 2^K regions ... InfoMax gives maximum "
        "regions, maximum expressiveness.",
    ),
    Claim(
        "C20",
        "InfoMax composes when stacked: a second layer trained on the first's outputs "
        "learns further independent, informative features.",
        ("004",),
        "Stacking: If layer 1 has InfoMax, what does layer 2 see? Does InfoMax compose?",
    ),
    Claim(
        "C21",
        "A competitive layer must pass something forward: responsibilities lose magnitude; "
        "raw activations after competition may work; other competitive activations work too.",
        ("001", "004"),
        "What is the right output for a competitive layer? ... Responsibilities lose "
        "magnitude. Raw activations after competition may work.",
    ),
    Claim(
        "C22",
        "A supervised signal and InfoMax combine (auxiliary loss).",
        ("004",),
        "Supervised extension: How does a supervised signal interact with InfoMax? "
        "Auxiliary loss? Constraint?",
    ),
    Claim(
        "C23",
        "Robust (Huber) energies give hybrid linear-saturating activations.",
        ("000",),
        "Robust losses => hybrid linear-saturating behaviors",
    ),
    Claim(
        "C24",
        "Hard (zero-temperature) EM cannot revise its decisions once made; soft EM can.",
        ("002",),
        "the E-step becomes hard assignment, EM loses its ability to revise earlier decisions.",
    ),
    Claim(
        "C25",
        "Competitive activations give attention-like competition among learned prototypes "
        "cheaply, as a drop-in replacement for an element-wise activation.",
        ("001",),
        "can we get attention-like competition among learned prototypes, cheaply, as a "
        "drop-in activation replacement?",
    ),
    Claim(
        "C26",
        "End-to-end training with a standard loss preserves the layer-wise competition of "
        "competitive activations (rather than the global objective overriding it).",
        ("001",),
        "If we use competitive activations and train end-to-end with a standard loss, do the "
        "internal layers maintain specialization? Or does the global objective override "
        "local competition?",
    ),
    Claim(
        "C27",
        "InfoMax maximises expressiveness: its K partitions approach the 2^K regions of K "
        "independent binary partitions, where 2^K is reachable (K <= D).",
        ("004",),
        "K independent binary partitions create 2^K regions. ... InfoMax gives maximum "
        "regions, maximum expressiveness.",
    ),
    Claim(
        "C28",
        "Sparsity that emerges from competition is compatible with EM; sparsity enforced by "
        "hard gating is not.",
        ("002",),
        "sparsity that emerges from competition is compatible with EM, sparsity enforced by "
        "hard gating is not.",
    ),
    Claim(
        "C29",
        "Replacing activations with softmin is not the correct remedy for ReLU's broken EM.",
        ("002",),
        "why replacing activations with softmin is not the correct remedy.",
    ),
    Claim(
        "C30",
        "Networks trained without internal competition exhibit massive redundancy: many "
        "units learn overlapping or identical features.",
        ("001",),
        "trained networks exhibit massive redundancy, with many units learning overlapping "
        "or identical features.",
    ),
    Claim(
        "C31",
        "Output competition does not propagate backward through ReLU: the internal layers "
        "inherit no such pressure.",
        ("001",),
        "But this competition does not propagate backward through ReLU. The internal layers "
        "inherit no such pressure.",
    ),
    Claim(
        "C32",
        "Softmax is limited to K regions (with interpolation); ReLU's combinatorial patterns "
        "go beyond K, up to 2^K.",
        ("001",),
        "Softmax forces soft selection. ... Limited to K regions with interpolation.",
    ),
    Claim(
        "C33",
        "Greedy local objectives may not align with the global task: a layer can specialise "
        "on structure irrelevant to the output.",
        ("001",),
        "Local objectives may not align with global task. A layer might specialize "
        "beautifully for structure irrelevant to the output.",
    ),
    Claim(
        "C34",
        "Activations are fully determined by the assumed distance / noise model in the "
        "objective, independent of architectural idiosyncrasies.",
        ("000",),
        "fully determined by the assumed distance / noise model in the objective, "
        "independent of architectural idiosyncrasies.",
    ),
    Claim(
        "C35",
        "-sum_j H(z_j) + lambda TC(z) is equivalent to maximising the joint entropy H(z).",
        ("004",),
        "L = -Σⱼ H(zⱼ) + λ TC(z) ... Equivalently: maximize joint entropy H(z₁, ..., zₖ).",
    ),
]

REGISTRY: dict[str, Claim] = {c.id: c for c in _CLAIMS}
CLAIMS: dict[str, str] = {c.id: c.text for c in _CLAIMS}

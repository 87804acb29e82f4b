"""The claims the experiment suite measures (IDs and wording from CLAIMS.md)."""

CLAIMS: dict[str, str] = {
    "C1": "For L = log sum exp(-d), dL/dd_j = -r_j exactly.",
    "C2": "Cross-entropy clamps responsibilities: distance-form gradient r_j - y_j.",
    "C3": "Attention weights are responsibilities conditioned on the query.",
    "C4": "Gradient descent on a mixture's LSE objective performs EM; "
    "EM mean step = gradient step preconditioned by Sigma/N_j.",
    "C5": "Two signed Gaussians give E[s|z] = tanh(m z / sigma^2).",
    "C6": "Laplace distances give a soft-sign-like activation.",
    "C7": "Heavy-tailed (Student-t) distances give slow-saturating odd functions.",
    "C8": "ReLU is the zero-temperature limit of soft competition.",
    "C9": "ReLU units die and cannot recover; soft (tanh-like) units keep gradient everywhere.",
    "C10": "Without competition, hidden units learn redundant hyperplanes; "
    "competition forces specialisation.",
    "C11": "Softmax without volume control collapses (one unit wins, or weights degenerate).",
    "C12": "InfoMax alone prevents both collapse modes (dead units and winner-take-all) "
    "with no extra regulariser.",
    "C13": "InfoMax yields non-redundant, informative features on real data.",
    "C14": "The Gaussian / decorrelation proxy is good enough; HSIC catches what it misses.",
    "C15": "Competitive activations keep expressiveness (many active regions) "
    "while adding competition.",
    "C16": "Greedy layer-wise EM pretraining gives each layer specialised units; "
    "end-to-end fine-tuning may undo it.",
    "C17": "Internal EM structure exists only where LSE normalisation over alternatives exists.",
}

"""The joint label model and the latent appearance variables, with their exact posterior.

Patients are drawn from eight WHO 2016 classes (IDH x 1p/19q x grade). Given the class, the
*appearance* latents are drawn independently (Bernoulli or Gaussian); the image is a deterministic
function of these latents plus label-independent nuisance (anatomy, location within a lobe,
scanner). Hence ``P(class | latents)`` is computable exactly and is the best any model can do:
the oracle. Age, sex and survival depend on the class but are not visible in the images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glioma.schema import WHO_CLASSES

# class order: (idh, codeletion, grade)
CLASSES: tuple[tuple[int, int, int], ...] = WHO_CLASSES
CLASS_NAMES: tuple[str, ...] = (
    "astrocytoma_idhwt_g2",
    "astrocytoma_idhwt_g3",
    "glioblastoma_idhwt",
    "astrocytoma_idhmut_g2",
    "astrocytoma_idhmut_g3",
    "glioblastoma_idhmut",
    "oligodendroglioma_g2",
    "oligodendroglioma_g3",
)
#: WHO 2016 class frequencies, close to the paper's TCGA test set (Table 1 / test_predictions.csv)
DEFAULT_CLASS_PRIOR: tuple[float, ...] = (0.03, 0.08, 0.46, 0.13, 0.13, 0.03, 0.07, 0.07)

# Bernoulli latents: P(latent = 1 | class), per class in CLASSES order.
BERNOULLI_LATENTS: dict[str, tuple[float, ...]] = {
    # contrast-enhancing solid tumour (T1c)
    "enhancing": (0.25, 0.45, 0.85, 0.15, 0.35, 0.65, 0.25, 0.45),
    # necrotic core (dark on T1/T1c, bright on T2)
    "necrosis": (0.08, 0.20, 0.70, 0.05, 0.12, 0.45, 0.05, 0.12),
    # T2-FLAIR mismatch: T2 homogeneously bright, FLAIR suppressed except a rim
    "mismatch": (0.05, 0.05, 0.03, 0.45, 0.35, 0.12, 0.08, 0.08),
    # calcifications (dark foci on every sequence)
    "calcified": (0.08, 0.08, 0.05, 0.12, 0.12, 0.08, 0.45, 0.50),
    # tumour centre in the frontal lobe
    "frontal": (0.40, 0.40, 0.40, 0.55, 0.55, 0.50, 0.75, 0.75),
}
# Gaussian latents: (mean per class, standard deviation)
GAUSSIAN_LATENTS: dict[str, tuple[tuple[float, ...], float]] = {
    # log of the core (non-edema) volume in cm^3
    "log_volume": ((2.6, 2.8, 3.2, 2.7, 2.9, 3.1, 2.7, 2.9), 0.6),
    # log of the edema margin relative to the core radius
    "log_edema": ((-1.1, -1.0, -0.6, -1.3, -1.15, -0.8, -1.2, -1.1), 0.5),
}
LATENT_NAMES: tuple[str, ...] = (*BERNOULLI_LATENTS, *GAUSSIAN_LATENTS)

# Not visible: age (years), sex, survival
AGE_MEAN: tuple[float, ...] = (55, 56, 61, 36, 39, 42, 44, 47)
AGE_SD = 12.0
P_MALE: tuple[float, ...] = (0.55, 0.55, 0.60, 0.56, 0.56, 0.58, 0.53, 0.53)
MEDIAN_OS_MONTHS: tuple[float, ...] = (40, 24, 14, 130, 80, 36, 190, 120)
WEIBULL_SHAPE = 1.3
AGE_LOG_HAZARD_PER_YEAR = 0.03
MAX_FOLLOW_UP_MONTHS = 150.0
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class PatientLabels:
    """True labels and latent appearance of one synthetic patient."""

    class_index: int
    idh: int
    codeletion: int
    grade: int
    age: float
    sex: str
    os_time_days: float
    os_event: int
    latents: dict[str, float]

    @property
    def subtype(self) -> str:
        return CLASS_NAMES[self.class_index]


def sample_patient(rng: np.random.Generator, prior: tuple[float, ...] = DEFAULT_CLASS_PRIOR) -> PatientLabels:
    """Draw one patient's class, clinical variables and latent appearance."""
    p = np.asarray(prior, dtype=float)
    c = int(rng.choice(len(CLASSES), p=p / p.sum()))
    idh, codel, grade = CLASSES[c]
    latents: dict[str, float] = {}
    for name, probs in BERNOULLI_LATENTS.items():
        latents[name] = float(rng.random() < probs[c])
    for name, (means, sd) in GAUSSIAN_LATENTS.items():
        latents[name] = float(rng.normal(means[c], sd))
    age = float(np.clip(rng.normal(AGE_MEAN[c], AGE_SD), 18, 89))
    sex = "M" if rng.random() < P_MALE[c] else "F"
    # Weibull survival with the median of the class, proportional age effect, uniform censoring
    scale = MEDIAN_OS_MONTHS[c] / np.log(2) ** (1 / WEIBULL_SHAPE)
    hazard_ratio = np.exp(AGE_LOG_HAZARD_PER_YEAR * (age - AGE_MEAN[c]))
    t_event = scale * (-np.log(rng.random()) / hazard_ratio) ** (1 / WEIBULL_SHAPE)
    t_censor = rng.uniform(1.0, MAX_FOLLOW_UP_MONTHS)
    event = int(t_event <= t_censor)
    months = float(min(t_event, t_censor))
    return PatientLabels(
        class_index=c,
        idh=idh,
        codeletion=codel,
        grade=grade,
        age=round(age, 1),
        sex=sex,
        os_time_days=round(months * DAYS_PER_MONTH, 1),
        os_event=event,
        latents=latents,
    )


def class_posterior(
    latents: dict[str, float], prior: tuple[float, ...] = DEFAULT_CLASS_PRIOR
) -> np.ndarray:
    """Exact P(class | appearance latents) under the generator, shape (8,)."""
    logp = np.log(np.asarray(prior, dtype=float))
    for name, probs in BERNOULLI_LATENTS.items():
        q = np.asarray(probs)
        logp = logp + np.log(np.where(latents[name] > 0.5, q, 1 - q))
    for name, (means, sd) in GAUSSIAN_LATENTS.items():
        logp = logp - 0.5 * ((latents[name] - np.asarray(means)) / sd) ** 2
    logp -= logp.max()
    post = np.exp(logp)
    return post / post.sum()


def label_posterior(
    latents: dict[str, float], prior: tuple[float, ...] = DEFAULT_CLASS_PRIOR
) -> dict[str, float]:
    """Marginal posteriors: ``oracle_p_idh_mutated``, ``oracle_p_1p19q_codeleted``, grades."""
    post = class_posterior(latents, prior)
    cls = np.asarray(CLASSES)
    return {
        "oracle_p_idh_mutated": float(post[cls[:, 0] == 1].sum()),
        "oracle_p_1p19q_codeleted": float(post[cls[:, 1] == 1].sum()),
        "oracle_p_grade_2": float(post[cls[:, 2] == 2].sum()),
        "oracle_p_grade_3": float(post[cls[:, 2] == 3].sum()),
        "oracle_p_grade_4": float(post[cls[:, 2] == 4].sum()),
    }

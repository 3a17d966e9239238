"""The paper's appendix experiments as workflow targets: sequence ablation (Appendix L),
training-set subsets (Appendix I), interpretability (Appendix J) and robustness examples
(Supplementary F and K). See README.md."""

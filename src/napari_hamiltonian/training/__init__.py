"""Training: the recipe of a model's training images and the model card that says how
well it does (``evaluation``, ``card``)."""

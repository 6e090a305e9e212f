// placeholder until its part lands

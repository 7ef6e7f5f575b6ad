"""From header records to a volume plan: stacks, slice order, repeated positions, geometry checks, the affine, and
opt-in resampling of irregular stacks."""

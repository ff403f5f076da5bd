"""MRI simulation: Bloch tissue signal (analytic and isochromat solver), k-space image formation."""

"""The Cython kernels built for the avx2 level (see ``fastopt._cy.isa``)."""

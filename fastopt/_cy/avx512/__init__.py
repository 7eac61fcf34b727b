"""The Cython kernels built for the avx512 level (see ``fastopt._cy.isa``)."""

//! Host trainer: trains the LSTMs with dfdx, quantizes and exports them.

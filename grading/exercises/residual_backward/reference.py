"""Reference: the backward pass of y = x + relu(x W1^T) W2^T in NumPy. Never sent into a sandbox."""

import numpy as np


def residual_backward(x, W1, W2, grad_out):
    h_pre = x @ W1.T
    h = np.maximum(h_pre, 0.0)
    dW2 = grad_out.T @ h
    dh = grad_out @ W2
    dh_pre = dh * (h_pre > 0)
    dW1 = dh_pre.T @ x
    dx = grad_out + dh_pre @ W1
    return dx, dW1, dW2

# expect: fail gradient
# uses ones instead of grad_out
import numpy as np


def residual_backward(x, W1, W2, grad_out):
    a = x @ W1.T
    grad_out = np.ones_like(grad_out)
    h = np.maximum(a, 0.0)
    dW2 = grad_out.T @ h
    dh = grad_out @ W2
    da = dh * (a > 0)
    dW1 = da.T @ x
    dx = grad_out + da @ W1
    return dx, dW1, dW2

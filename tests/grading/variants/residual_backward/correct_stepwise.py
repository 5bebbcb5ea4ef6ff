# expect: pass
# named steps, boolean mask
import numpy as np


def residual_backward(x, W1, W2, grad_out):
    a = x @ W1.T
    h = np.maximum(a, 0.0)
    dW2 = grad_out.T @ h
    dh = grad_out @ W2
    da = dh * (a > 0)
    dW1 = da.T @ x
    dx = grad_out + da @ W1
    return dx, dW1, dW2

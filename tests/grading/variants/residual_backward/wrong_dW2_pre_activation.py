# expect: fail gradient
# dW2 from the pre-activation
import numpy as np


def residual_backward(x, W1, W2, grad_out):
    a = x @ W1.T
    np.maximum(a, 0.0)
    dW2 = grad_out.T @ a
    dh = grad_out @ W2
    da = dh * (a > 0)
    dW1 = da.T @ x
    dx = grad_out + da @ W1
    return dx, dW1, dW2

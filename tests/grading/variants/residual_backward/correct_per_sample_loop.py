# expect: pass
# a loop over samples with outer products
import numpy as np


def residual_backward(x, W1, W2, grad_out):
    dx = np.empty_like(x)
    dW1 = np.zeros_like(W1)
    dW2 = np.zeros_like(W2)
    for i, (xi, gi) in enumerate(zip(x, grad_out, strict=True)):
        a = W1 @ xi
        h = np.maximum(a, 0)
        dW2 += np.outer(gi, h)
        da = (W2.T @ gi) * np.heaviside(a, 0.0)
        dW1 += np.outer(da, xi)
        dx[i] = gi + W1.T @ da
    return dx, dW1, dW2

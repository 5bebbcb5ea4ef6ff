# expect: pass
# einsum and np.where
import numpy as np


def residual_backward(x, W1, W2, grad_out):
    pre = np.einsum("nd,hd->nh", x, W1)
    hidden = np.where(pre > 0, pre, 0.0)
    d_hidden = np.einsum("nd,dh->nh", grad_out, W2)
    d_pre = np.where(pre > 0, d_hidden, 0.0)
    dW1 = np.einsum("nh,nd->hd", d_pre, x)
    dW2 = np.einsum("nd,nh->dh", grad_out, hidden)
    dx = grad_out + np.einsum("nh,hd->nd", d_pre, W1)
    return (dx, dW1, dW2)

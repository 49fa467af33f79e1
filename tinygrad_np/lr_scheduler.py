"""Learning-rate schedulers under their PyTorch module name (`torch.optim.lr_scheduler`).

They are defined in `tinygrad_np.optim` (they know optimizers and share its argument
checks) and are the same classes as `optim.StepLR`, `optim.CosineAnnealingLR`:

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()          # once per epoch, after optimizer.step()
"""
from tinygrad_np.optim import CosineAnnealingLR, LRScheduler, StepLR

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]

"""Real optimisation steps on one fixed batch: the losses, to check that a task's loss goes down."""


def losses_over_steps(task, model, batch: dict, steps: int = 12, lr: float = 3e-3) -> list[float]:
    """``steps`` AdamW steps of ``task.loss`` on ``batch``; the loss before each step."""
    import torch  # here: the test modules skip themselves first when torch is missing

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses

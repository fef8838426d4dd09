"""The PyTorch side of PyTorchRoundTripTest (needs PyTorch).

    python3 roundtrip.py train CORPUS TEXT STATE STEPS   train an RNNModel (LSTM) for STEPS steps of the
                                                          example's loop on CORPUS's train split, save its
                                                          state dict to STATE with torch.save
    python3 roundtrip.py eval CORPUS TEXT STATE ARGS      load STATE (torch.load(weights_only=True)) into an
                                                          RNNModel built from the JSON ARGS that lstm export wrote
Both print "perplexity P" of TEXT read as one stream (batch 1), every word predicted from all before it:
what `lstm eval --file TEXT` computes. Word ids are data.Dictionary's, rebuilt from CORPUS.
"""
import json, math, sys

import torch
import torch.nn as nn

from rnn_model import RNNModel, corpus_files, dictionary


def ids_of(path, idx):
    with open(path) as f:
        return [idx[w] for line in f for w in line.split() + ["<eos>"]]


def perplexity(model, ids):
    model.eval()
    total, hidden = 0.0, None
    with torch.no_grad():
        for at in range(0, len(ids) - 1, 1000):  # chunks, the state carried across them
            x = torch.tensor(ids[at:min(at + 1000, len(ids) - 1)]).view(-1, 1)
            y = torch.tensor(ids[at + 1:at + 1 + x.shape[0]])
            lp, hidden = model(x, hidden)
            total -= lp.double().gather(1, y.view(-1, 1)).sum().item()
    return math.exp(total / (len(ids) - 1))


def train(corpus, text, state, steps):
    torch.manual_seed(1)
    idx = dictionary(corpus)
    data = torch.tensor(ids_of(corpus_files(corpus)[0], idx))
    batch, bptt, lr = 10, 20, 20.0
    data = data[:data.size(0) // batch * batch].view(batch, -1).t().contiguous()
    model = RNNModel("LSTM", len(idx), 32, 32, 2, dropout=0.2)
    loss_fn, hidden, i = nn.NLLLoss(), None, 0
    model.train()
    for step in range(steps):
        if i + 1 + bptt > data.size(0):
            i, hidden = 0, None
        x, y = data[i:i + bptt], data[i + 1:i + 1 + bptt].reshape(-1)
        i += bptt
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        model.zero_grad()
        out, hidden = model(x, hidden)
        loss_fn(out, y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
    torch.save(model.state_dict(), state)
    print("perplexity %.9f" % perplexity(model, ids_of(text, idx)))


def evaluate(corpus, text, state, args_file):
    idx = dictionary(corpus)
    with open(args_file) as f:
        a = json.load(f)
    model = RNNModel(a["rnn_type"], a["ntoken"], a["ninp"], a["nhid"], a["nlayers"], a["dropout"], a["tie_weights"])
    model.load_state_dict(torch.load(state, weights_only=True))
    print("perplexity %.9f" % perplexity(model, ids_of(text, idx)))


if __name__ == "__main__":
    torch.set_num_threads(2)
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        evaluate(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])

"""The model of PyTorch's examples/word_language_model, for the interop tests' scripts."""
import os

import torch
import torch.nn as nn


class RNNModel(nn.Module):
    """PyTorch's examples/word_language_model/model.py RNNModel, LSTM and GRU branches, as written there."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False, bidirectional=False):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout, bidirectional=bidirectional)
        self.decoder = nn.Linear(nhid * (2 if bidirectional else 1), ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.nlayers, self.nhid = nlayers, nhid

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.decoder.out_features)
        return torch.log_softmax(decoded, dim=1), hidden


def corpus_files(folder):
    """train, valid and test of a corpus folder, in PyTorch's layout or PTB's (ptb.*.txt)."""
    for names in (("train.txt", "valid.txt", "test.txt"), ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")):
        paths = [os.path.join(folder, n) for n in names]
        if all(os.path.exists(p) for p in paths):
            return paths
    raise SystemExit("no corpus in " + folder)


def dictionary(folder):
    """data.Dictionary: words in order of first appearance, train then valid then test, <eos> after each line."""
    idx = {}
    for path in corpus_files(folder):
        with open(path) as f:
            for line in f:
                for w in line.split() + ["<eos>"]:
                    idx.setdefault(w, len(idx))
    return idx

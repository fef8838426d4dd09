"""Makes the PyTorch fixtures of PyTorchImportTest (run from this folder; needs PyTorch, CPU only).

    python3 make_fixtures.py

Writes corpus/{train,valid,test}.txt (a made-up text), state dicts of the word_language_model
RNNModel with an LSTM (untied.pt: 2 layers; tied.pt: 1 layer, decoder tied to encoder;
untied.safetensors: untied.pt's tensors as safetensors), state dicts this engine must refuse
(gru.pt, bidirectional.pt, emsize.pt, module.pt: a whole pickled model), and expected.json: the
log-probabilities each model gives in float64 (model.double()) to a fixed word sequence, with the
PyTorch version that computed them.
"""
import json, os, random, struct
import torch

from rnn_model import RNNModel, dictionary


def corpus():
    rng = random.Random(7)
    words = ["w%d" % i for i in range(23)] + ["<unk>"]
    os.makedirs("corpus", exist_ok=True)
    for split, lines in (("train", 40), ("valid", 8), ("test", 8)):
        with open("corpus/%s.txt" % split, "w") as f:
            for _ in range(lines):
                f.write(" " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + " \n")


def randomise(model, seed):
    # every tensor away from its initial value (decoder.bias starts at zero), as training would leave it
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 0.6 - 0.3)


def log_probs(model, ids):
    model = model.double().eval()
    hidden = None
    out = []
    with torch.no_grad():
        x = torch.tensor(ids[:-1]).view(-1, 1)
        lp, _ = model(x, hidden)
        for t in range(len(ids) - 1):
            out.append(lp[t, ids[t + 1]].item())
        last = lp[-1].tolist()
    return out, last


def save_safetensors(state, path):
    header, blobs, at = {}, [], 0
    for name, t in state.items():
        data = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    torch.manual_seed(1)
    corpus()
    idx = dictionary("corpus")
    ntok = len(idx)
    with open("corpus/test.txt") as f:
        ids = [idx[w] for line in f for w in line.split() + ["<eos>"]][:40]
    expected = {"torch": torch.__version__, "ids": ids, "models": {}}
    for name, layers, tied, seed in (("untied", 2, False, 11), ("tied", 1, True, 12)):
        m = RNNModel("LSTM", ntok, 8, 8, layers, dropout=0.3, tie_weights=tied)
        randomise(m, seed)
        torch.save(m.state_dict(), name + ".pt")
        if not tied:
            save_safetensors(m.state_dict(), name + ".safetensors")
        steps, last = log_probs(m, ids)
        expected["models"][name] = {"log_probs": steps, "last_distribution": last}
    torch.save(RNNModel("GRU", ntok, 8, 8, 1).state_dict(), "gru.pt")
    torch.save(RNNModel("LSTM", ntok, 8, 8, 1, bidirectional=True).state_dict(), "bidirectional.pt")
    torch.save(RNNModel("LSTM", ntok, 6, 8, 1).state_dict(), "emsize.pt")
    torch.save(RNNModel("LSTM", ntok, 8, 8, 1), "module.pt")
    with open("expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

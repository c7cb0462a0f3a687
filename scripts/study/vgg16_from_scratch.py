"""From-scratch VGG16 (torchvision config D and init, no batch norm) + early-fusion head at 64 px:
the training loss over the first steps for several optimiser settings. PyTorch reference for
memefuse's vgg16-lstm divergence (docs/study.md). Usage: python vgg16_from_scratch.py [steps] [batch]"""
import sys, time, torch, torch.nn as nn

torch.manual_seed(0)
torch.set_num_threads(2)
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 6
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 16

def vgg_features():
    layers, c = [], 3
    for width, convs in zip([64, 128, 256, 512, 512], [2, 2, 3, 3, 3]):
        for _ in range(convs):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(inplace=True)]
            c = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)

class Fusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = vgg_features()
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5))
        self.text = nn.Linear(16, 64)  # stands in for the LSTM's 64 features
        self.hidden = nn.Linear(4096 + 64, 256)
        self.head = nn.Linear(256, 2)
        self.drop = nn.Dropout(0.3)
        for m in list(self.features) + list(self.classifier):  # torchvision's VGG init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu"); nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01); nn.init.zeros_(m.bias)

    def image_parameters(self):
        return list(self.features.parameters()) + list(self.classifier.parameters())

    def forward(self, x, t):
        f = self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
        j = torch.cat([f, torch.tanh(self.text(t))], 1)
        return self.head(self.drop(torch.relu(self.hidden(self.drop(j)))))

# Data: labels carried by both modalities, as in memefuse synth (a bright square / a text feature).
g = torch.Generator().manual_seed(1)
N = BATCH * 4
labels = torch.randint(0, 2, (N,), generator=g)
images = torch.randn(N, 3, 64, 64, generator=g) * 0.5
images[labels == 1, :, 16:48, 16:48] += 1.0
text = torch.randn(N, 16, generator=g); text[:, 0] += (labels * 2 - 1).float()

def run(name, image_lr, head_lr, clip=None, warmup=0):
    torch.manual_seed(0)
    model = Fusion()
    image = model.image_parameters(); ids = {id(p) for p in image}
    rest = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.Adam([{"params": image, "lr": image_lr}, {"params": rest, "lr": head_lr}])
    base = [group["lr"] for group in opt.param_groups]
    losses, start = [], time.time()
    for step in range(STEPS):
        if warmup:
            for group, lr in zip(opt.param_groups, base):
                group["lr"] = lr * min(1.0, (step + 1) / warmup)
        i = (step % 4) * BATCH
        loss = nn.functional.cross_entropy(model(images[i:i + BATCH], text[i:i + BATCH]), labels[i:i + BATCH])
        opt.zero_grad(); loss.backward()
        if clip: torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step(); losses.append(loss.item())
    print(f"{name:34s} " + " ".join(f"{l:7.3f}" for l in losses) + f"   ({time.time() - start:.0f} s)", flush=True)

settings = sys.argv[3].split(",") if len(sys.argv) > 3 else ["1e-3", "1e-3clip", "1e-4", "1e-5", "split"]
for s in settings:
    if s == "1e-3": run("Adam 1e-3 everywhere", 1e-3, 1e-3)
    if s == "1e-3clip": run("Adam 1e-3, clip 1.0", 1e-3, 1e-3, clip=1.0)
    if s == "warm": run("Adam 1e-3, 5-step warm-up", 1e-3, 1e-3, warmup=5)
    if s == "1e-4": run("Adam 1e-4 everywhere", 1e-4, 1e-4)
    if s == "1e-5": run("Adam 1e-5 everywhere", 1e-5, 1e-5)
    if s == "split": run("Adam image 1e-5, head 1e-3", 1e-5, 1e-3)
    if s == "split4": run("Adam image 1e-4, head 1e-3", 1e-4, 1e-3)

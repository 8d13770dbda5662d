"""Compare stickpose's class drawing with the class's own generator code at one commit."""
import sys, importlib, numpy as np
commit, style = sys.argv[1], sys.argv[2]
sys.path.insert(0, f"/tmp/classcode/{commit}/generator")
import stickman as class_stickman          # the class's code
from stickpose.data.placement import class_stretch
from stickpose.data.render import class_labels, draw_stickman_class
from stickpose.skeleton import CLASS_COLOURS_RGB, line_thickness

def ours(poses32, size, group):
    poses = poses32.reshape(-1, 16, 2).astype(np.float64)
    placed = class_stretch(poses, size if style == "class" else size - 1, group)
    masks = []
    for p in placed:
        image = np.zeros((size, size, 3), np.uint8)
        draw_stickman_class(image, p, (255, 255, 255), line_thickness(size), style)
        masks.append(image.any(axis=2))
    return np.stack(masks), class_labels(placed).reshape(-1, 32)

np.random.seed(0)
# the test sets: one image at a time, as generator/test.py drew Dataset.zip
gen = class_stickman.stick_man_generator(batch_size=1, set_of_data="test", input_shape=(224, 224, 3))
count = 879 * 4
theirs_masks, theirs_labels, poses = [], [], gen.key_points.labels[:count]
for i in range(count):
    images, kp = gen[i]
    theirs_masks.append((images[0] > 0).any(axis=2)); theirs_labels.append(kp[0])
masks, labels = ours(poses, 224, 1)
theirs_masks, theirs_labels = np.stack(theirs_masks), np.stack(theirs_labels)
print(f"{commit} vs style {style}: test poses {count}: images with identical figure pixels "
      f"{(masks == theirs_masks).all(axis=(1, 2)).sum()}/{count}, labels identical "
      f"{(labels == theirs_labels).all(axis=1).sum()}/{count}")
# training batches of 64
gen = class_stickman.stick_man_generator(batch_size=64, set_of_data="train", input_shape=(196, 196, 3))
same_m = same_l = 0
for b in range(20):
    idx = gen.key_points.indexes[b * 64:(b + 1) * 64]
    poses = gen.key_points.labels[idx].copy()
    images, kp = gen[b]
    m, l = ours(poses, 196, 64 if style == "class" else 1)
    same_m += (m == (images > 0).any(axis=3)).all(axis=(1, 2)).sum(); same_l += (l == kp).all(axis=1).sum()
print(f"  training batches of 64 at 196 px: {same_m}/{20*64} identical figures, {same_l}/{20*64} identical labels")

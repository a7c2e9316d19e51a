"""Write the paper-summary PDFs of the sample corpus into notes/papers/.

Run from the repository root (kept out of notes/ so the corpus holds only notes):

    python -m sharpnotes.eval.benchmarks.make_sample_pdfs

The output is deterministic: the creation date is fixed and nothing depends on the clock,
so re-running the script reproduces the committed PDFs byte for byte (same fpdf2 version).
All text uses the built-in Helvetica/Courier fonts and must therefore stay latin-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from sharpnotes.eval.benchmarks.paths import REPO

OUT_DIR = REPO / "notes" / "papers"
CREATED = datetime(2024, 3, 2, 9, 30, tzinfo=UTC)
BODY_SIZE = 10.5
LINE_H = 5.2


@dataclass(frozen=True)
class Formula:
    """A formula written as plain text, rendered in a monospace font."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A text table; the first row is the header."""

    rows: tuple[tuple[str, ...], ...]
    col_widths: tuple[int, ...]


Block = str | Formula | Bullets | Table


@dataclass(frozen=True)
class Paper:
    """One paper summary: output file name, titles and sections of blocks."""

    filename: str
    short: str
    title: str
    byline: str
    sections: tuple[tuple[str, tuple[Block, ...]], ...]


DETR = Paper(
    filename="detr-summary.pdf",
    short="DETR summary",
    title="Paper summary: DETR - End-to-End Object Detection with Transformers",
    byline=(
        "Carion, Massa, Synnaeve, Usunier, Kirillov, Zagoruyko. ECCV 2020 (Facebook AI). "
        "My own reading notes for interview prep, not the authors' text."
    ),
    sections=(
        (
            "1. Summary",
            (
                "DETR recasts object detection as predicting a set. A CNN backbone produces a "
                "feature map, a transformer encoder-decoder turns a fixed number of learned "
                "object queries into the same number of box predictions, and a one-to-one "
                "assignment between predictions and ground truth, found with the Hungarian "
                "algorithm, defines the training loss. There are no anchors, no proposal stage, "
                "no hand-written rules for which prediction is responsible for which object, "
                "and no non-maximum suppression at the end.",
                "On COCO the ResNet-50 version reaches 42.0 AP, the same number as a carefully "
                "re-trained Faster R-CNN with FPN, with about half the FLOPs and a similar "
                "parameter count. The win is concentrated on large objects; on small objects "
                "DETR is clearly worse. The price is training time: the main model is trained "
                "for 500 epochs, roughly five to ten times more than a two-stage detector needs.",
            ),
        ),
        (
            "2. Method",
            (
                "Backbone. An ImageNet-pretrained ResNet-50 or ResNet-101 gives the last stage "
                "map (stride 32, 2048 channels). A 1x1 convolution reduces it to d = 256 "
                "channels and the map is flattened into H*W tokens. Fixed sine positional "
                "encodings are added to queries and keys in every attention layer.",
                "Encoder. Six layers of multi-head self-attention plus a feed-forward network "
                "over all image tokens. Because every token attends to every other token, the "
                "cost grows with the square of H*W, which is the reason DETR only uses the "
                "coarse stride-32 map and no feature pyramid.",
                "Decoder. Six layers that take N = 100 learned embeddings, the object queries, "
                "and decode all of them in parallel (not autoregressively). Self-attention "
                "between queries lets them negotiate who predicts which object, which is what "
                "makes duplicate suppression unnecessary; cross-attention reads the encoder "
                "memory.",
                "Heads. A 3-layer MLP predicts the normalised box (center x, center y, width, "
                "height in [0, 1]) and a linear layer predicts class scores over the COCO "
                "classes plus one extra no-object class. Predictions that are matched to "
                "nothing are trained to output no-object.",
                "Matching. The ground-truth set is padded with no-object entries up to N, and "
                "the Hungarian algorithm finds the permutation sigma with the lowest total "
                "cost. For a ground-truth object i with class c_i and box b_i:",
                Formula(
                    "C_match(i, sigma(i)) = -p_hat_sigma(i)(c_i) + L_box(b_i, b_hat_sigma(i))\n"
                    "L_box(b, b_hat) = lambda_iou * L_GIoU(b, b_hat) + lambda_L1 * |b - b_hat|_1\n"
                    "lambda_iou = 2, lambda_L1 = 5   (both terms skipped when c_i is no-object)"
                ),
                "Note the matching cost uses the class probability itself, not its log, so it "
                "lives on the same scale as the box terms. Once the permutation is fixed, the "
                "loss that is back-propagated is:",
                Formula(
                    "L_Hungarian = sum_i [ -log p_hat_sigma(i)(c_i)"
                    " + 1{c_i != no-object} * L_box(b_i, b_hat_sigma(i)) ]"
                ),
                "The log-probability term for no-object targets is down-weighted by a factor of "
                "10, since almost all of the 100 queries are empty in a typical image. GIoU is "
                "needed next to L1 because L1 alone is not scale invariant: the same pixel error "
                "matters much more for a small box than for a large one.",
                "The assignment problem is solved exactly. The Hungarian algorithm is cubic in "
                "the number of items, but with N = 100 that is cheap, and the reference code "
                "simply calls scipy.optimize.linear_sum_assignment on the CPU for every image in "
                "the batch. The cost matrix is computed on the GPU in one batched operation.",
                "Auxiliary losses. The shared prediction heads are applied after every decoder "
                "layer, each with its own Hungarian matching, and all six losses are summed. "
                "This deep supervision noticeably speeds up and stabilises training.",
                "Training recipe. AdamW, learning rate 1e-4 for the transformer and 1e-5 for "
                "the backbone, weight decay 1e-4, dropout 0.1, gradient clipping at norm 0.1. "
                "Multi-scale resizing (short side 480 to 800, long side at most 1333) plus "
                "random crops. The 300-epoch schedule takes about 3 days on 16 V100 GPUs with "
                "4 images per GPU; the 500-epoch schedule drops the learning rate at epoch 400 "
                "and gives about 1.5 AP more.",
            ),
        ),
        (
            "3. Results",
            (
                "COCO 2017 val. The '+' Faster R-CNN baseline was retrained by the authors with "
                "GIoU, random crops and a long 9x schedule (about 109 epochs), so the comparison "
                "is against a strong, well-tuned model rather than the default config. "
                "DC5 means the last ResNet stage uses dilation, doubling the feature resolution "
                "to stride 16.",
                Table(
                    rows=(
                        ("Model", "AP", "AP_S", "AP_L", "GFLOPs", "FPS", "Params"),
                        ("Faster R-CNN-FPN+ (R50)", "42.0", "26.6", "53.4", "180", "26", "42M"),
                        ("DETR (R50)", "42.0", "20.5", "61.1", "86", "28", "41M"),
                        ("DETR-DC5 (R50)", "43.3", "22.5", "61.1", "187", "12", "41M"),
                        ("DETR-DC5 (R101)", "44.9", "23.7", "62.3", "253", "10", "60M"),
                    ),
                    col_widths=(52, 17, 17, 17, 22, 17, 20),
                ),
                "Reading the table: DETR gains about 7.7 AP on large objects and loses about "
                "6 AP on small ones against the same-size Faster R-CNN. DC5 helps small objects "
                "a bit but more than doubles the compute, and throughput drops from 28 to 12 "
                "images per second.",
                "Ablations I want to remember. Removing the encoder entirely costs 3.9 AP overall "
                "and 6.0 AP on large objects, so global image-level reasoning matters for "
                "separating instances. AP rises after every decoder layer, by 8.2 AP between the "
                "first and the last one. Running NMS on top helps the outputs of the first "
                "decoder layer, but on the final layer it slightly hurts, which shows the later "
                "layers have learned to remove duplicates themselves.",
                "What the queries learn. Plotting the predicted box centers of individual query "
                "slots over the validation set shows that each slot specialises in certain image "
                "regions and box sizes, and almost every slot also has a mode for large, "
                "image-wide boxes, which are common in COCO. The queries are therefore a learned, "
                "soft version of anchors rather than pure content.",
                "Counting beyond the training data. In a synthetic image with 24 giraffes pasted "
                "in, more than any single training image contains, DETR still found all of them, "
                "so the queries are not hard-wired to a per-class count.",
                "Panoptic segmentation. A mask head attached to the decoder outputs turns DETR "
                "into a panoptic model that treats things and stuff the same way, and it was "
                "competitive with the strong PanopticFPN baseline on COCO panoptic.",
            ),
        ),
        (
            "4. Limitations",
            (
                Bullets(
                    (
                        "Slow convergence: 500 epochs. At initialisation cross-attention is spread "
                        "almost uniformly over the whole image, and one-to-one matching gives each "
                        "object a single positive query, so the learning signal is sparse. The "
                        "matching itself also flips between queries early in training.",
                        "Weak on small objects: only the stride-32 map is used, because global "
                        "attention on a stride-8 map would be far too expensive.",
                        "The number of queries caps the number of detections per image (100); "
                        "fine for COCO, questionable for a crowded street scene.",
                        "Attention over all tokens scales badly with input resolution, which "
                        "hurts on high-resolution driving cameras and on embedded GPUs.",
                    )
                ),
            ),
        ),
        (
            "5. My takeaways",
            (
                "Why no NMS? Because the loss itself punishes duplicates: only one query may be "
                "matched to an object, so a second query predicting the same box is pushed "
                "towards no-object, and decoder self-attention gives the queries a way to "
                "coordinate. That is the 30-second answer for interviews.",
                "The follow-up line is worth knowing in order. Deformable DETR replaces dense "
                "attention with a few sampled points around a reference point and adds "
                "multi-scale features, cutting training to about 50 epochs and fixing small "
                "objects. Conditional DETR and DAB-DETR give queries an explicit spatial meaning "
                "(DAB uses 4D anchor boxes as queries). DN-DETR adds denoising queries built from "
                "jittered ground-truth boxes to stabilise matching, and DINO combines these "
                "ideas and pushed COCO AP above 63 with a large backbone and extra data. "
                "RT-DETR targets real-time inference.",
                "For driving, the set-prediction recipe is everywhere: DETR3D and PETR use 3D "
                "object queries, BEVFormer uses a DETR-style head on BEV features, and MOTR "
                "carries track queries from frame to frame. Hungarian matching plus auxiliary "
                "decoder losses is the common core.",
                "Q: Why does DETR train so slowly compared with Faster R-CNN? A: Three reasons "
                "that reinforce each other: attention maps start out uniform and must learn to "
                "focus on a few pixels, each object gets exactly one positive query per image "
                "(Faster R-CNN assigns many anchors to one object), and the matching is unstable "
                "early, so the same query gets different targets from epoch to epoch.",
                "One-to-one versus one-to-many: classic detectors give each object many positive "
                "anchors and clean up with NMS; DETR gives it exactly one. Later work such as "
                "H-DETR and Group DETR adds an extra one-to-many matching branch during training "
                "only, to get denser supervision, and drops it at inference so NMS stays "
                "unnecessary.",
                "Practical note for deployment: dropping NMS is attractive on the car because "
                "NMS has data-dependent runtime, but the transformer decoder is its own latency "
                "cost, so measure before claiming a speed-up.",
            ),
        ),
    ),
)

BEV = Paper(
    filename="bev-perception-survey.pdf",
    short="BEV perception survey",
    title="Survey summary: Bird's-Eye-View Perception for Autonomous Driving",
    byline=(
        "Notes from reading the BEV survey literature, mainly Li et al., 'Delving into the "
        "Devils of Bird's-eye-view Perception' (TPAMI 2023), plus the papers it covers. "
        "Written in my own words."
    ),
    sections=(
        (
            "1. Summary",
            (
                "BEV perception builds one top-down feature map around the ego vehicle from "
                "surround cameras, lidar, radar or a mix, and runs the task heads (3D boxes, map "
                "elements, occupancy, motion) on that map. The survey sorts methods by input "
                "(camera-only, lidar-only, fusion) and, for cameras, by how image features are "
                "moved into the BEV grid. That step, the view transform, is the core problem, "
                "because a single image gives no direct depth.",
                "Main conclusions I took away: (1) depth quality is the bottleneck of camera "
                "BEV, and explicit depth supervision from lidar helps a lot; (2) temporal fusion "
                "of past BEV maps is cheap and mostly improves velocity and occluded objects; "
                "(3) a large part of leaderboard progress comes from a bag of tricks (BEV-space "
                "augmentation, longer training, test-time augmentation, bigger backbones) rather "
                "than from the view transform itself; (4) camera-lidar fusion is still clearly "
                "ahead of camera-only.",
            ),
        ),
        (
            "2. Method: the view-transform families",
            (
                "A. Homography / IPM. Inverse perspective mapping warps the image onto the "
                "ground with a 3x3 homography, assuming everything lies on a flat road. It works "
                "for lane paint and fails for anything with height (cars get smeared into long "
                "streaks) and on slopes.",
                "B. Learned MLP transform (e.g. VPN, HDMapNet). A fully connected layer maps "
                "flattened perspective features to BEV cells without explicit geometry. Simple, "
                "but it bakes one camera rig into the weights and does not transfer to new "
                "mounting positions.",
                "C. Forward projection with depth (LSS, BEVDet, BEVDepth). Each pixel predicts a "
                "categorical depth distribution over D bins and a context vector; features are "
                "lifted into a frustum of 3D points and pooled into BEV pillars:",
                Formula(
                    "F(u, v, d) = alpha_d(u, v) * c(u, v)      d = 1..D, sum_d alpha_d = 1\n"
                    "X_ego = R * (d * K^-1 * [u, v, 1]^T) + t   (K intrinsics, R and t extrinsics)"
                ),
                "In LSS the depth bins run from 4 m to 45 m in 1 m steps (D = 41) and the grid "
                "covers plus or minus 50 m at 0.5 m per cell, i.e. 200 x 200 cells. BEVDet puts "
                "an LSS-style transform in front of a BEV encoder and a CenterPoint head, and "
                "shows that augmentation applied in BEV space (rotating, scaling and flipping the "
                "BEV features together with the boxes) matters, because image-space "
                "augmentation barely changes the BEV target. BEVDepth supervises the depth "
                "distribution with lidar points projected into the image and feeds the camera "
                "intrinsics into the depth network; lidar is needed only for training.",
                "Memory check for the lift step: with 6 cameras, 41 depth bins and a 16 x 44 "
                "feature map (stride 16 on a 256 x 704 input) the frustum holds 6 * 41 * 16 * 44 "
                "= 173,184 points per frame, each carrying a C-dimensional feature. That is why "
                "the pooling kernel, not the backbone, used to dominate runtime.",
                "D. Backward projection with queries (DETR3D, PETR, BEVFormer). Start from 3D "
                "locations and fetch image features there. DETR3D projects each object query's "
                "3D reference point into all cameras and bilinearly samples features, with no "
                "dense BEV map at all. PETR instead adds a 3D position embedding, computed from "
                "frustum coordinates, to the image features and lets object queries attend to "
                "them globally. BEVFormer keeps a dense grid of 200 x 200 BEV queries at about "
                "0.512 m per cell (plus or minus 51.2 m); each query lifts its pillar to several "
                "reference heights, projects them into the cameras they hit, and samples them "
                "with deformable attention (spatial cross-attention). A temporal self-attention "
                "layer reads the previous BEV map after aligning it with ego motion.",
                "Lidar-only BEV is the easy case: the points are already metric 3D, so VoxelNet, "
                "PointPillars and CenterPoint voxelise or pillarise the cloud, run a sparse or "
                "2D backbone, and flatten the height axis into channels. The survey treats these "
                "as the upper bound that camera methods chase.",
                "E. Fusion in BEV (BEVFusion, MIT). The camera branch uses an LSS-style "
                "transform, the lidar branch a voxel backbone flattened to BEV, and a "
                "convolutional fuser merges the concatenated maps. The authors rewrote BEV "
                "pooling as a dedicated GPU kernel and report a view-transform speed-up of more "
                "than 40x, which made the depth-based transform practical.",
                Table(
                    rows=(
                        ("Method", "Year", "Sensors", "View transform", "Key idea"),
                        ("LSS", "2020", "camera", "forward, depth dist.", "lift-splat, cumsum"),
                        ("BEVDet", "2021", "camera", "forward (LSS)", "BEV-space augmentation"),
                        ("DETR3D", "2021", "camera", "backward, sparse", "3D ref. points"),
                        ("PETR", "2022", "camera", "implicit", "3D position embedding"),
                        ("BEVFormer", "2022", "camera", "backward, dense", "deformable + temporal"),
                        ("BEVDepth", "2022", "camera", "forward", "lidar depth supervision"),
                        ("BEVFusion", "2022", "cam+lidar", "fwd + voxels", "fast BEV pooling"),
                    ),
                    col_widths=(28, 16, 26, 44, 56),
                ),
            ),
        ),
        (
            "3. Results and evaluation",
            (
                "Benchmarks. Most numbers in the survey are on nuScenes: 1000 scenes of 20 s "
                "each from Boston and Singapore, 6 cameras, one 32-beam lidar, 5 radars, 10 "
                "detection classes, and keyframes annotated at 2 Hz. Waymo Open is the second "
                "benchmark, with 5 cameras that do not cover the full 360 degrees.",
                "nuScenes detection mAP does not use IoU: a prediction counts as a match when its "
                "center is within a distance threshold on the ground plane, averaged over 0.5, "
                "1, 2 and 4 m. The headline metric NDS mixes mAP with five true-positive errors "
                "(translation, scale, orientation, velocity, attribute):",
                Formula(
                    "NDS = (1/10) * [ 5 * mAP + sum_{e in TP} (1 - min(1, e)) ]\n"
                    "TP = { mATE, mASE, mAOE, mAVE, mAAE }"
                ),
                "So mAP carries half of the score, and a camera model with no temporal input "
                "gets punished through mAVE because velocity from a single frame is a guess.",
                "Reference points. BEVFormer reported 56.9 NDS on nuScenes test, a large jump "
                "for camera-only at the time; its ablations show that temporal self-attention "
                "mainly lowers velocity error and helps with occluded objects. BEVFusion with "
                "camera plus lidar reported 72.9 NDS and 70.2 mAP on the test set, which shows "
                "how much the lidar still adds. Camera-only models with stronger depth, starting "
                "with BEVDepth, pushed test NDS past 60 within about a year of BEVFormer, so the "
                "gap is shrinking but far from closed.",
            ),
        ),
        (
            "4. Limitations",
            (
                Bullets(
                    (
                        "Depth error grows with distance, so camera-only BEV degrades quickly "
                        "beyond roughly 50 m; far objects are where it loses most to lidar.",
                        "Grid cost is quadratic in range: at 0.5 m cells, plus or minus 100 m is "
                        "400 x 400 = 160k cells, four times the usual 200 x 200.",
                        "Everything depends on calibration; a small extrinsic rotation error "
                        "moves far features into the wrong cells.",
                        "A flat BEV map throws away height, which hurts overhanging structures; "
                        "this motivated 3D occupancy prediction.",
                        "Benchmarks are narrow: nuScenes is small and covers two cities, so "
                        "leaderboard gains do not always transfer to a new fleet.",
                        "Deformable attention and custom pooling kernels need plugin work before "
                        "they run in TensorRT on embedded hardware.",
                    )
                ),
            ),
        ),
        (
            "5. My takeaways",
            (
                "Interview framing: forward projection pushes pixels out along rays using "
                "predicted depth; backward projection pulls features into BEV cells by "
                "projecting 3D points into the images. The first is geometrically explicit and "
                "fast with a good pooling kernel; the second avoids a depth head and handles "
                "temporal fusion naturally, but relies on attention and sampling ops that are "
                "harder to deploy.",
                "If I had to build a camera BEV detector for a production car today I would "
                "start from a BEVDepth-style model: LSS transform, lidar depth supervision "
                "during training only, two or more frames of temporal fusion, BEV-space "
                "augmentation, and a dedicated pooling kernel. Then keep an image-space head for "
                "far range where the BEV grid is too coarse.",
                "Map heads share the same BEV features. HDMapNet predicts rasterised lane and "
                "crossing masks and vectorises them in post-processing; later work such as "
                "MapTR predicts map elements directly as ordered point sets with a DETR-style "
                "decoder, which removes the fragile raster-to-vector step.",
                "Temporal fusion is worth a note of its own. The simple version warps the "
                "previous BEV feature map into the current ego frame with the known ego motion "
                "and concatenates it with the current map; BEVDet4D does exactly this with one "
                "past frame and gets a large drop in velocity error. Moving objects still "
                "smear, because only the ego motion is compensated, not the objects' motion.",
                "Open questions I want to follow: how occupancy networks change the picture, how "
                "well these models survive a new camera rig, and whether sparse query methods "
                "(no dense grid) win at long range.",
            ),
        ),
    ),
)

CLIP = Paper(
    filename="clip-pretraining.pdf",
    short="CLIP pretraining",
    title="Paper summary: CLIP - Learning Transferable Visual Models From Natural Language",
    byline=(
        "Radford et al., OpenAI, ICML 2021. My notes, paraphrased, with a focus on what matters "
        "for vision and driving work."
    ),
    sections=(
        (
            "1. Summary",
            (
                "CLIP trains an image encoder and a text encoder together so that an image and "
                "its caption land close in a shared embedding space. The only supervision is "
                "400 million image-text pairs collected from the internet; no class labels are "
                "used. After training, any set of class names can be turned into a classifier "
                "by embedding a sentence per class and picking the one most similar to the "
                "image, which is called zero-shot transfer.",
                "Headline result: the best model reaches 76.2% top-1 zero-shot accuracy on "
                "ImageNet, equal to the original supervised ResNet-50, without seeing a single "
                "one of the 1.28 million ImageNet training labels. The previous zero-shot "
                "ImageNet result (Visual N-Grams) was 11.5%. Zero-shot CLIP is also much more "
                "robust under distribution shift than ImageNet-trained models of equal accuracy.",
            ),
        ),
        (
            "2. Method",
            (
                "Data. The WIT dataset: 400M pairs gathered by searching for images whose text "
                "contains one of 500,000 queries, keeping up to 20,000 pairs per query to "
                "balance concepts. Total text volume is about the same as the WebText corpus "
                "used for GPT-2.",
                "Why contrastive? The authors first tried to predict the exact caption with a "
                "transformer language model and found it learned slowly. Predicting a bag of "
                "words was about 3x more efficient, and switching to the contrastive objective "
                "(just decide which caption goes with which image) gave another 4x in zero-shot "
                "ImageNet accuracy for the same compute.",
                "Objective. For a batch of N pairs, compute the N x N matrix of cosine "
                "similarities; the N diagonal entries are the positives and the other N^2 - N "
                "entries are negatives. Apply cross-entropy along rows (image to text) and "
                "along columns (text to image) and average the two:",
                Formula(
                    "I = normalize(W_i * f_img(images)),  T = normalize(W_t * f_txt(texts))\n"
                    "logits = (I * T^T) * exp(t),   labels = [0, 1, ..., N-1]\n"
                    "L = 0.5 * ( CE(logits, labels) + CE(logits^T, labels) )"
                ),
                "The temperature is a learned scalar, initialised to 0.07 (so exp(t) = 1/0.07) "
                "and clipped so the logit scale never exceeds 100. The projections W_i and W_t "
                "are plain linear maps; there is no non-linear projection head as in SimCLR.",
                "Encoders. Image side: five ResNets (RN50, RN101, and the scaled RN50x4, RN50x16, "
                "RN50x64) with attention pooling in place of global average pooling, and three "
                "Vision Transformers (ViT-B/32, ViT-B/16, ViT-L/14). Text side: a 12-layer, "
                "512-wide transformer with 8 heads (63M parameters), a lower-cased BPE vocabulary "
                "of 49,152 tokens, sequences capped at 76 tokens, and the activation at the end "
                "token used as the text embedding.",
                "Training. 32 epochs for every model, batch size 32,768, Adam with decoupled "
                "weight decay and a cosine schedule, mixed precision. The only image "
                "augmentation is a random square crop. The largest ResNet (RN50x64) trained for "
                "18 days on 592 V100 GPUs and ViT-L/14 for 12 days on 256 V100 GPUs. The best "
                "model is ViT-L/14 fine-tuned for one more epoch at 336 px, called "
                "ViT-L/14@336px.",
                "A training step, in pseudo-code (my paraphrase of the idea, not the paper's "
                "listing):",
                Formula(
                    "img_f = image_encoder(x_img)            # N x d_i\n"
                    "txt_f = text_encoder(x_txt)             # N x d_t\n"
                    "I = l2_normalize(img_f @ W_i)           # N x d\n"
                    "T = l2_normalize(txt_f @ W_t)           # N x d\n"
                    "logits = exp(t) * I @ T.T               # N x N\n"
                    "loss = (ce(logits, arange(N)) + ce(logits.T, arange(N))) / 2"
                ),
                "A large batch matters because every other caption in the batch is a negative: "
                "with 32,768 pairs each image is contrasted against 32,767 wrong captions per "
                "step. The symmetric loss trains both retrieval directions, and learning the "
                "temperature removes a sensitive hyper-parameter.",
                "Zero-shot classification. Class names are wrapped in a prompt such as 'A photo "
                "of a {label}.' and embedded; the text embeddings act as the weights of a linear "
                "classifier. Prompt engineering per dataset helps (for pets: 'A photo of a "
                "{label}, a type of pet.'), and averaging embeddings of 80 different prompts on "
                "ImageNet adds 3.5 points; together the two give almost 5 points.",
            ),
        ),
        (
            "3. Results",
            (
                "Zero-shot across datasets. Over a suite of 27 datasets, zero-shot CLIP beats a "
                "fully supervised logistic regression on ResNet-50 features on 16 of them, "
                "ImageNet included. It is strongest on general object and action categories and "
                "weakest on specialised domains (see limitations).",
                "Zero-shot versus few-shot. Zero-shot CLIP matches a logistic-regression probe "
                "trained on 4 labelled examples per class using the same CLIP features, and "
                "roughly matches a 16-shot probe on BiT-M features. Odd detail: a 1-shot probe "
                "is worse than zero-shot, because one example is a weaker description of a "
                "class than its name.",
                "Why prompts matter. Captions in the pre-training data are almost never a single "
                "word, so a bare class name is out of distribution for the text encoder, and "
                "single words are ambiguous: 'crane' in ImageNet can be a bird or a construction "
                "machine, and 'boxer' in Oxford Pets is a dog breed, not an athlete. A short "
                "context sentence fixes both problems.",
                "Humans as a reference. On Oxford Pets, human participants scored about 54% "
                "with no examples and about 76% after seeing one image per breed, a much bigger "
                "jump from a single example than CLIP gets from a 1-shot probe.",
                "Scaling. Across the model family, zero-shot error falls smoothly as compute "
                "grows, and in linear-probe evaluation the CLIP ViTs were about 3x more compute "
                "efficient than the CLIP ResNets, which is why ViT-L/14 became the flagship.",
                "Linear probes. With full training data, a linear classifier on the best CLIP "
                "features beats the Noisy Student EfficientNet-L2 features on 21 of 27 datasets.",
                "Robustness. Accuracy of zero-shot CLIP compared with an ImageNet-trained "
                "ResNet-101 that has the same ImageNet accuracy (top-1, percent):",
                Table(
                    rows=(
                        ("Dataset", "ImageNet ResNet-101", "Zero-shot CLIP"),
                        ("ImageNet", "76.2", "76.2"),
                        ("ImageNetV2", "64.3", "70.1"),
                        ("ImageNet-R (renditions)", "37.7", "88.9"),
                        ("ObjectNet", "32.6", "72.3"),
                        ("ImageNet Sketch", "25.2", "60.2"),
                        ("ImageNet-A (adversarial)", "2.7", "77.1"),
                    ),
                    col_widths=(70, 50, 50),
                ),
                "The gap is striking: at equal in-distribution accuracy, CLIP keeps most of its "
                "accuracy on sketches and renditions while the supervised model collapses. The "
                "authors also show that adapting CLIP to ImageNet with a supervised probe raises "
                "ImageNet accuracy but gives back part of this robustness.",
            ),
        ),
        (
            "4. Limitations",
            (
                Bullets(
                    (
                        "Zero-shot CLIP is on average far below task-specific state of the art; "
                        "the authors estimate about 1000x more compute would be needed to close "
                        "the gap by scaling alone.",
                        "Weak on specialised or abstract tasks: satellite images, tumour patches, "
                        "counting objects, German traffic sign recognition, and estimating the "
                        "distance to the nearest car in KITTI.",
                        "Poor generalisation to truly out-of-distribution data: only about 88% on "
                        "MNIST digits, below a logistic regression on raw pixels.",
                        "Test-set overlap with the web data was checked with a duplicate "
                        "detector; overlap was a few percent on typical datasets and changed "
                        "reported accuracy only slightly, but it cannot be ruled out everywhere.",
                        "Data hungry: 400M pairs times 32 epochs is 12.8 billion image views.",
                        "Unfiltered web data carries social biases into the model, and the model "
                        "cannot generate text, only score it.",
                    )
                ),
            ),
        ),
        (
            "5. My takeaways",
            (
                "For my work the most useful application is not zero-shot classification but "
                "search: embedding all fleet frames once and querying with text ('cyclist at "
                "night in rain', 'person pushing a stroller') is a cheap way to mine the long "
                "tail for the data engine.",
                "How I would set the mining up: embed every keyframe with a CLIP image encoder "
                "once at ingestion, keep the vectors in an approximate nearest-neighbour index, "
                "and let engineers type queries or paste an example image. Results still need a "
                "human check, but it turns a week of scrolling through drives into an afternoon.",
                "CLIP is also the usual vision tower in vision-language models, and "
                "open-vocabulary detectors build on the same image-text alignment. Later work "
                "such as SigLIP replaces the softmax with an independent sigmoid loss per pair, "
                "so no normalisation over the whole batch is needed and very large batches get "
                "cheaper.",
                "If fine-tuning is needed, keep an eye on robustness: full fine-tuning on a narrow "
                "dataset tends to erase the zero-shot model's robustness, and simple tricks such "
                "as averaging the zero-shot and fine-tuned weights (WiSE-FT) recover much of it.",
                "Do not trust it for safety-critical decisions as is: the paper itself lists "
                "traffic signs and distance to cars among the weak spots. Fine-tune or use it "
                "only as a feature extractor behind a task-specific head.",
                "Interview one-liner: CLIP is a symmetric InfoNCE loss over a huge batch of "
                "image-text pairs; zero-shot classification is nearest text embedding; the big "
                "lessons are scale of noisy web data and robustness to distribution shift.",
            ),
        ),
    ),
)

PAPERS = (DETR, BEV, CLIP)


class SummaryPDF(FPDF):
    """A4 document with a footer carrying the short title and page number."""

    def __init__(self, short: str) -> None:
        super().__init__(format="A4")
        self.short = short
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=20)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "I", 9)
        self.cell(0, 8, f"{self.short} - page {self.page_no()} of {{nb}}", align="C")


def render_block(pdf: FPDF, block: Block) -> None:
    """Draw one content block at the current position."""
    if isinstance(block, str):
        pdf.set_font("Helvetica", "", BODY_SIZE)
        pdf.multi_cell(0, LINE_H, block, align="L")
    elif isinstance(block, Formula):
        pdf.set_font("Courier", "", 9.5)
        pdf.set_x(pdf.l_margin + 5)
        pdf.multi_cell(0, LINE_H, block.text, align="L")
    elif isinstance(block, Bullets):
        pdf.set_font("Helvetica", "", BODY_SIZE)
        for item in block.items:
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(0, LINE_H, f"- {item}", align="L")
            pdf.ln(1)
    else:
        pdf.set_font("Helvetica", "", 9.5)
        with pdf.table(col_widths=block.col_widths, text_align="LEFT", line_height=5.5) as table:
            for row in block.rows:
                cells = table.row()
                for value in row:
                    cells.cell(value)
    pdf.ln(2.5)


def build(paper: Paper, out_dir: Path = OUT_DIR) -> Path:
    """Render one paper summary and return the written path."""
    pdf = SummaryPDF(paper.short)
    pdf.set_creation_date(CREATED)
    pdf.set_title(paper.title)
    pdf.set_author("sharpnotes sample notes")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 7, paper.title, align="L")
    pdf.ln(1)
    pdf.set_font("Helvetica", "I", 9.5)
    pdf.multi_cell(0, 5, paper.byline, align="L")
    pdf.ln(4)
    for heading, blocks in paper.sections:
        if pdf.get_y() > pdf.page_break_trigger - 30:
            pdf.add_page()  # keep a heading together with the text below it
        pdf.set_font("Helvetica", "B", 12.5)
        pdf.multi_cell(0, 7, heading, align="L")
        pdf.ln(1)
        for block in blocks:
            render_block(pdf, block)
        pdf.ln(2)
    path = out_dir / paper.filename
    pdf.output(str(path))
    return path


def main() -> None:
    """Write all paper summaries next to this script."""
    for paper in PAPERS:
        print(build(paper))


if __name__ == "__main__":
    main()

"""The specific terms of a question and whether passages name them (``app.coverage``), with the
packaged glossary: names as written, glossary phrases, acronyms and their expansions, Chinese."""

from __future__ import annotations

from sharpnotes.app.answer import FAR_IN_CHINESE, Evidence, refusal_reason
from sharpnotes.app.coverage import asked_name, marked, specific_terms, uncovered, zh_anchored
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.settings import Settings


def names(question: str) -> list[str]:
    return sorted(t.text for t in specific_terms(question))


def test_names_acronyms_and_glossary_phrases_are_specific_generic_words_are_not() -> None:
    assert names("How does PointPillars encode a point cloud?") == ["point cloud", "pointpillars"]
    assert names("When should I use gradient clipping?") == ["gradient clipping"]
    assert names("How does NMS work?") == ["nms"]
    # the hardware a question names in passing is no topic of its own ("... save GPU memory")
    assert names("Why is it slower in wall-clock time on GPUs?") == []
    assert names("gradient checkpointing 跟 mixed precision 都可以省 GPU 記憶體，差在哪？") == [
        "gradient checkpointing",
        "mixed precision",
    ]
    assert names("What is the non-maximum suppression procedure?") == ["non-maximum suppression"]
    assert names("How can I shrink my embedding index?") == []


def test_a_near_miss_is_uncovered_by_topical_overlap() -> None:
    passage = "IoU measures box overlap; gradients flow through the box loss."
    assert uncovered("How does non-maximum suppression use IoU?", [passage]) == [
        "non-maximum suppression"
    ]
    assert uncovered("What does gradient clipping do?", [passage]) == ["gradient clipping"]


def test_an_acronym_is_covered_by_its_expansion_and_back() -> None:
    assert uncovered("Why does DETR skip NMS?", ["DETR drops non-maximum suppression."]) == []
    assert uncovered("What replaces non-maximum suppression?", ["NMS is not needed."]) == []


def test_british_spellings_and_plain_english_names_cover_a_term() -> None:
    passage = "Approximate nearest neighbour indexes: IVF-PQ fits a billion vectors in memory."
    assert uncovered("Which ANN index fits in RAM?", [passage]) == []
    assert uncovered("Is the mIoU computed on the validation set?", ["mIoU over the val set"]) == []
    # an unrelated name is still not covered: spellings fold, topics do not
    assert uncovered("How does PointPillars use RAM?", [passage]) == ["pointpillars"]
    assert "test set" in uncovered("What is the test set for?", ["the val set"])


def test_a_chinese_question_is_judged_on_its_names_and_its_topic() -> None:
    from sharpnotes.app.coverage import zh_anchored

    question = "DETR 為什麼不需要 NMS"
    assert uncovered(question, ["DETR needs no non-maximum suppression: matching is 1:1."]) == []
    assert uncovered(question, ["DETR matches boxes one-to-one."]) == ["nms"]
    # glossary entries of Chinese map to plain words as often as to terms: the topic decides
    assert names("批次正規化在推論時怎麼運作") == []
    assert zh_anchored("批次正規化在推論時怎麼運作", ["Batch normalization at inference..."])
    assert zh_anchored("批次正規化在推論時怎麼運作", ["批次正規化在推論時用移動平均。"])
    assert not zh_anchored("批次正規化在推論時怎麼運作", ["Layer norm works per token."])


def test_a_chinese_question_needs_its_topic_in_the_passages() -> None:
    from sharpnotes.app.coverage import zh_anchored

    lane_note = ["車道線偵測常用影像分割，最好的方法是逐列分類，速度很快。"]
    assert not zh_anchored("滷肉飯的滷汁要怎麼調才會香？", lane_note)
    assert zh_anchored("車道線偵測為什麼用逐列分類？", lane_note)
    # through the glossary or a Latin word, a Chinese question is about an English note
    english = ["Monocular depth: a single image cannot give absolute depth scale."]
    assert zh_anchored("為什麼單張影像沒辦法直接知道絕對深度？", english)
    assert zh_anchored("Monocular 的尺度問題", english)
    assert zh_anchored("What is depth?", [])  # English questions are not judged here


def test_a_chinese_question_met_only_by_one_glossary_word_is_off_topic() -> None:
    from sharpnotes.app.coverage import thinly_anchored

    notes = ["PTQ：不用重新訓練，用幾百張 calibration images 統計 activation 的範圍。"]
    # 訓練 (training) is the notes' word, dogs and biting are not
    assert thinly_anchored("怎麼訓練我家的狗不要亂咬東西？", notes, 0.5)
    # ... a question on the notes' subject shares a topic pair besides it
    assert not thinly_anchored("PTQ 為什麼不用重新訓練？", notes, 0.5)  # a Latin name
    assert not thinly_anchored("量化之前要先統計範圍嗎？要重新訓練嗎？", notes, 0.5)
    # two glossary terms met are a topic, over an English note too
    forest = ["Random forests sample features for each split, which decorrelates the trees."]
    assert not thinly_anchored("隨機森林為什麼每次分裂只從一部分特徵裡挑？", forest, 0.5)


def test_what_a_chinese_question_writes_in_english_must_be_named() -> None:
    # a near miss: the notes speak of transformers and windows, never of Swin or shifted windows
    question = "Swin Transformer 的 shifted window 是怎麼讓不同視窗之間交換資訊的？"
    vit = ["ViT: a transformer over image patches; each window of attention sees all tokens."]
    assert names(question) == ["shifted window", "swin transformer"]
    assert uncovered(question, vit) == ["swin transformer", "shifted window"]
    swin = ["Swin Transformer: attention inside local windows; a shifted window links them."]
    assert uncovered(question, swin) == []
    # a Chinese question with no English in it keeps being judged on its topic alone
    assert names("為什麼 深度 估計 需要 尺度") == []


def _passage(heading: str, text: str) -> SearchResult:
    return SearchResult(1, 1.0, "c1", "fundamentals/optimizers.md", heading, None, text)


def test_the_gate_reads_headings_and_does_not_hold_chinese_to_minilm(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    strong, weak = Evidence(0.6, 0.6, 1.0), Evidence(0.2, 0.2, 0.0)
    rmsprop = _passage("Optimizers > RMSProp", "Replace the sum with a moving average of g^2.")
    # the section's heading names the method its text never repeats
    assert refusal_reason("How does RMSProp scale the step?", [rmsprop], strong, settings) is None
    assert "rmsprop" in refusal_reason(
        "How does RMSProp scale the step?", [_passage("Optimizers", rmsprop.text)], strong, settings
    )
    assert "evidence" in refusal_reason("What is a moving average?", [rmsprop], weak, settings)
    # MiniLM's weak score says nothing of a Chinese question: its names and topic decide
    lane = _passage("車道線偵測", "車道線偵測常用逐列分類 (row-wise classification)，速度很快。")
    assert refusal_reason("車道線偵測為什麼用逐列分類？", [lane], weak, settings) is None
    assert refusal_reason("滷肉飯的滷汁要怎麼調？", [lane], weak, settings) is not None
    assert refusal_reason("LaneATT 的 anchor 怎麼設計？", [lane], weak, settings) is not None
    assert refusal_reason("車道線偵測為什麼用逐列分類？", [], strong, settings) is not None
    # the glossary's 推薦 (recommendation) finds the notes on recommenders for a question on
    # beef noodles: a passage that far from it in the multilingual space does not answer it
    cold = _passage(
        "Recommendation > Cold start",
        "The cold start problem of recommendation: a new user has no history, so recommend "
        "popular items in their region first. A new item gets content features until it has "
        "clicks.",
    )
    assert refusal_reason("推薦台北好吃的牛肉麵店", [cold], weak, settings) == FAR_IN_CHINESE
    assert refusal_reason("推薦幾本好看的小說", [cold], weak, settings) == FAR_IN_CHINESE
    assert refusal_reason("推薦系統的冷啟動怎麼處理？", [cold], weak, settings) is None
    assert refusal_reason("新使用者沒有紀錄時推薦什麼？", [cold], weak, settings) is None


def test_a_question_on_what_a_name_is_is_answered_where_a_passage_writes_the_name(
    tmp_path,
) -> None:
    """A newcomer's "What is the KV cache?", "What is ECE?" and "What is logQ correction?" were
    refused (MiniLM scored them 0.45-0.85) over lines that define them in passing; a question
    that asks more than what a name is, or a name no passage writes as asked, is still scored."""
    settings = Settings(home=tmp_path)
    weak = Evidence(0.2, 0.2, 0.0)
    cheat = _passage(
        "Transformers cheat sheet",
        "KV cache: at inference store K,V of past tokens. Fix popularity bias with logQ "
        "correction (subtract log of sampling prob from the logit).",
    )
    for asked in (
        "What is the KV cache?",
        "What is logQ correction?",
        "How does the KV cache work?",
    ):
        assert refusal_reason(asked, [cheat], weak, settings) is None, asked
    assert "evidence" in refusal_reason(
        "How big is the KV cache of a 70B model?", [cheat], weak, settings
    )
    assert "evidence" in refusal_reason("What is KV cache eviction?", [cheat], weak, settings)
    assert asked_name("What is the novelty effect?") == "novelty effect"
    assert asked_name("Why is the sky blue?") == ""


def test_proper_nouns_and_names_written_as_kinds_or_plain_words() -> None:
    # a capitalised word inside an English sentence names a method or its author
    assert names("How does Bergstrom sampling pick an arm?") == ["bergstrom"]
    assert uncovered("How does Bergstrom sampling pick an arm?", ["UCB picks the arm"]) == [
        "bergstrom"
    ]
    assert names("Why is it slow?") == []  # a sentence's first word is not a name
    # "R-CNN-style" names R-CNN; "SECOND" is found though "second" is a plain word
    assert "r-cnn" in names("Why do Fast R-CNN-style heads use smooth L1?")
    assert uncovered("Why do R-CNN-style heads regress?", ["Fast R-CNN regresses boxes"]) == []
    assert uncovered("Why did SECOND regress the sine?", ["SECOND (sparse conv) regresses"]) == []
    assert uncovered("Why did SECOND regress the sine?", ["PointPillars regresses"]) == ["second"]


def test_a_greek_letter_named_is_covered_by_its_symbol() -> None:
    # a newcomer's "focal loss 的 gamma 是做什麼的？" was refused over "γ = 2 論文最好"
    focal = ["focal loss = CE 乘上 (1 − p_t)^γ；γ = 2 論文最好"]
    assert uncovered("focal loss 的 gamma 是做什麼的？", focal) == []
    assert uncovered("focal loss 的 gamma 是做什麼的？", ["focal loss = CE 乘上 (1 − p_t)"]) == [
        "gamma"
    ]


def test_english_written_in_a_chinese_question_is_covered_by_its_chinese() -> None:
    question = "網路預測出來的 variance 在 tracker 裡可以怎麼用？"
    assert uncovered(question, ["Tracker 的量測雜訊 R 可以直接用網路預測的變異數"]) == []
    assert uncovered(question, ["Tracker 的量測雜訊 R 寫死成常數"]) == ["variance"]


def test_another_form_of_a_word_covers_it_a_longer_derivation_does_not() -> None:
    question = "Do in-batch negatives cause popularity bias?"
    assert uncovered(question, ["in-batch negatives over-sample popular items: a bias"]) == []
    # "normal" shares a stem with "normalization" but is a different word
    assert uncovered("How does batch normalization work?", ["the normal batch"]) == [
        "batch normalization"
    ]


def test_a_glossary_phrase_with_a_plain_word_must_be_written_whole() -> None:
    from sharpnotes.app.coverage import english_of

    # "he" is not a content term: "initialization" alone must not stand for He initialization
    assert names("Why set the forget-gate bias at initialization?") == []
    assert names("How does He initialization scale weights?") == ["he initialization"]
    assert uncovered("How does He initialization scale weights?", ["Xavier initialization"]) == [
        "he initialization"
    ]
    # ... and is written with an ending in a heading as well ("A/B testing" names "A/B test")
    assert names("Online A/B testing - metrics") == ["a/b test"]
    # mixed-case acronyms and run-together forms end an English side as aliases
    assert english_of("intersection over union IoU") == ("intersection over union", ["IoU"])
    assert english_of("sequence to sequence seq2seq") == ("sequence to sequence", ["seq2seq"])


def test_sections_headed_with_each_name_of_the_question_vouch_for_it(settings: Settings) -> None:
    weak = Evidence(0.2, 0.2, 0.0)
    second = _passage("LiDAR 3D detection > SECOND (Yan et al., 2018)", "Sparse convolutions.")
    question = "Why did SECOND regress the sine of the yaw difference?"
    assert refusal_reason(question, [second], weak, settings) is None
    # named in the text but not heading a section: the score decides
    plain = _passage("LiDAR 3D detection", "SECOND uses sparse convolutions.")
    assert "evidence" in refusal_reason(question, [plain], weak, settings)
    # a two-letter name is too short to vouch for a section
    onsite = _passage("Inbox > AV company onsite", "Write the numbers on the board.")
    assert "evidence" in refusal_reason("What did the AV company pay?", [onsite], weak, settings)
    # every name must head a section: one on LLMs does not vouch for FlashAttention
    llms = _passage("Topics > Large language models (LLMs)", "- FlashAttention, KV cache")
    question = "Why is FlashAttention such a big deal for LLMs?"
    assert "evidence" in refusal_reason(question, [llms], weak, settings)
    flash = _passage("Topics > FlashAttention", "IO-aware tiled attention in SRAM.")
    assert refusal_reason(question, [llms, flash], weak, settings) is None


def test_a_name_the_notes_mark_in_bold_or_as_a_table_row_vouches_for_it(settings: Settings) -> None:
    weak = Evidence(0.2, 0.2, 0.0)
    llms = _passage("Topics > Large language models (LLMs)", "- FlashAttention, KV cache")
    question = "Why is FlashAttention such a big deal for LLMs?"
    assert "evidence" in refusal_reason(question, [llms], weak, settings)  # named, not marked
    bold = _passage(llms.heading, "- **FlashAttention**: IO-aware tiled attention in SRAM.")
    assert refusal_reason(question, [bold], weak, settings) is None
    # a table row's name
    table = _passage(
        "Post-training",
        "| Algorithm | Data |\n|---|---|\n| KTO | binary thumbs up/down, no pairs as DPO needs |",
    )
    assert refusal_reason("KTO binary feedback without pairs", [table], weak, settings) is None
    # every name must be marked: "DPO" is not, so the score decides
    both = "how does KTO differ from DPO?"
    assert "evidence" in refusal_reason(both, [table], weak, settings)
    # a word typed in lower case is no name, whatever the notes write in capitals
    shout = _passage("Dropout", "Dropout is **NOT** applied at inference; **MAP** is a metric.")
    question = "why is the sky blue and not a map?"
    assert "evidence" in refusal_reason(question, [shout], weak, settings)
    # a plain question with no name at all is still left to the score
    assert "evidence" in refusal_reason("what data does it need?", [table], weak, settings)


def test_a_name_typed_in_lower_case_is_the_acronym_the_notes_write(settings: Settings) -> None:
    """Quick questions are typed in lower case: "kto" where the notes write KTO is held to the
    checks of "KTO"; an English word the notes shout in capitals is not."""
    weak = Evidence(0.2, 0.2, 0.0)
    table = _passage(
        "Post-training",
        "| Algorithm | Data |\n|---|---|\n| **KTO** | binary thumbs up/down, no pairs |",
    )
    assert refusal_reason("kto binary feedback without pairs", [table], weak, settings) is None
    shout = _passage("Dropout", "Dropout is **NOT** applied at inference; **MAP** is a metric.")
    question = "why is the sky blue and not a map?"
    assert "evidence" in refusal_reason(question, [shout], weak, settings)


def test_a_name_only_a_to_do_mentions_is_not_covered(settings: Settings) -> None:
    """A to-do means to write about something; it does not cover it."""
    weak = Evidence(0.9, 0.9, 0.0)
    todo = _passage(
        "Detection Q&A",
        "- Q: Why soft-NMS? A: it decays overlapping scores instead of removing boxes.\n"
        "- TODO: read RT-DETR paper, compare latency vs YOLOv8 on Orin\n"
        "Calibration drift is common. TODO: write up time sync (PTP)\n",
    )
    why = refusal_reason("How does RT-DETR compare to YOLOv8 in latency?", [todo], weak, settings)
    assert why is not None and "rt-detr" in why
    why = refusal_reason("How does PTP time sync work?", [todo], weak, settings)
    assert why is not None and "ptp" in why


def test_a_chinese_question_names_what_its_english_words_name(settings: Settings) -> None:
    """A Chinese question's English run "2D detector" names 2D, not the phrase (the note writes
    "公司車載 2D 還是 anchor-based"); 匈牙利演算法 is named where a note writes "Hungarian" without
    "algorithm"; names next to each other stay one term ("Faster R-CNN")."""
    weak = Evidence(0.2, 0.2, 0.0)
    car = _passage("anchors vs anchor-free", "- 公司車載 2D 還是 anchor-based (YOLOv5 改的)")
    question = "公司車上的 2D detector 為什麼還是用 anchor-based？"
    assert refusal_reason(question, [car], weak, settings) is None
    hungarian = _passage("tracking > association", "- Hungarian：**O(n³)**，不是 O(n²)")
    question = "匈牙利演算法的時間複雜度是多少？"
    assert refusal_reason(question, [hungarian], weak, settings) is None
    question = "Faster R-CNN 這類 two-stage detector 為什麼沒那麼依賴 focal loss？"
    assert [t.text for t in specific_terms(question)] == ["faster r-cnn", "two-stage", "focal loss"]
    # a capitalised plain word is no name: the glossary phrase is the term
    assert names("Mixed precision training 要注意什麼？") == ["mixed precision"]
    # "Hungarian" names 匈牙利演算法 (named after someone); "model" does not name 模型並行
    from sharpnotes.app.coverage import writes_glossary_term

    assert writes_glossary_term("Hungarian: O(n^3)", "匈牙利演算法", "Hungarian algorithm")
    data = "Data parallelism: each GPU holds a full copy of the weights."
    assert not writes_glossary_term(data, "模型並行", "model parallelism")


def test_a_name_in_code_is_a_specific_term(settings: Settings) -> None:
    """ "torch.compile" names one thing: notes that write "torch" and TensorRT elsewhere do
    not cover it."""
    strong = Evidence(0.9, 0.9, 0.0)
    orin = _passage("Deploy", "- TensorRT on Orin: FP16 first\n\n```python\nimport torch\n```")
    question = "Is torch.compile faster than TensorRT on Orin?"
    assert "torch.compile" in refusal_reason(question, [orin], strong, settings)
    compiled = _passage("Deploy", "- torch.compile gave 1.3x on the desktop, TensorRT 2x on Orin")
    assert refusal_reason(question, [compiled], strong, settings) is None
    # as written, not as two words the notes write apart; sentences run together are no name
    engine = _passage("Deploy", "- import torch\n- compile the engine with trtexec (TensorRT)")
    assert "torch.compile" in refusal_reason(question, [engine], strong, settings)
    assert names("What is BN.Why does it help?") == ["bn"]


def test_a_name_a_note_says_it_has_not_covered_yet_is_not_covered(settings: Settings) -> None:
    """Real notes say what they have not written, read or tried yet in more ways than "TODO":
    a section headed "待補", "另開一篇" (a note of its own, later), "沒實際試過". Such a line
    names a method without covering it; a fact before a "待補:" that ends its line still counts."""
    strong = Evidence(0.9, 0.9, 0.0)
    later = _passage(
        "BEV 感知整理 > 待補",
        "- BEVFusion (MIT vs 北大/阿里 兩篇同名!) 的差異\n- HDMapNet / MapTR 另開一篇",
    )
    why = refusal_reason("How does MapTR represent map elements?", [later], strong, settings)
    assert why is not None and "maptr" in why
    untried = _passage(
        "量化與部署 > TensorRT",
        "- FP16 first, then INT8 with calibration\n"
        "- SmoothQuant (W8A8, 把 outlier 移到 weight)，沒實際試過\n"
        "- warmup 讓 stats 先穩定. 待補: RAdam 的解釋",
    )
    why = refusal_reason("How does SmoothQuant handle outliers?", [untried], strong, settings)
    assert why is not None and "smoothquant" in why
    assert "radam" in refusal_reason("How does RAdam fix warmup?", [untried], strong, settings)
    assert refusal_reason("Why use warmup?", [untried], strong, settings) is None
    # the same lines with the method explained are covered
    written = _passage("BEV 感知整理 > Maps", "- MapTR 把每個 map element 表示成一組有序點")
    assert (
        refusal_reason("How does MapTR represent map elements?", [written], strong, settings)
        is None
    )  # noqa: E501


def test_an_acronym_the_notes_spell_out_vouches_for_it(settings: Settings) -> None:
    """ "IPM (inverse perspective mapping)" defines IPM, as a bold name marks it."""
    weak = Evidence(0.2, 0.2, 0.0)
    fragment = _passage(
        "BEV fragments",
        "- IPM (inverse perspective mapping) assumes flat ground -> breaks on slopes",
    )
    assert refusal_reason("why does IPM break", [fragment], weak, settings) is None
    plain = _passage("BEV fragments", "- IPM assumes flat ground -> breaks on slopes")
    assert "evidence" in refusal_reason("why does IPM break", [plain], weak, settings)


def test_a_list_item_labelled_with_a_name_vouches_for_it(settings: Settings) -> None:
    """Terse notes define things as labelled items ("- ByteTrack: associate low-score dets
    too"): the label marks the name, as a bold span does; a name the item only mentions in its
    text does not, nor does a link's "https:"."""
    weak = Evidence(0.2, 0.2, 0.0)
    frags = _passage(
        "MOT quick notes",
        "- SORT: Kalman filter + Hungarian on IoU. fast\n"
        "- DeepSORT: + appearance embedding (ReID CNN) -> fewer ID switches\n"
        "- ByteTrack: associate low-score dets too (2nd pass)\n"
        "- see https://example.org/OC-SORT for later work\n",
    )
    question = "What is the difference between SORT, DeepSORT and ByteTrack?"
    assert refusal_reason(question, [frags], weak, settings) is None
    assert "evidence" in refusal_reason("How does ReID work?", [frags], weak, settings)
    assert "ReID" not in marked(frags.text) and "https" not in marked(frags.text)

    # a heading that writes a phrase with an ending ("A/B testing") heads it too
    ab = _passage("Online A/B testing - metrics", "- CUPED: variance reduction with X before.\n")
    assert refusal_reason("What is CUPED doing in an A/B test?", [ab], weak, settings) is None


def test_a_name_that_opens_a_paragraph_vouches_for_it(settings: Settings) -> None:
    """A mixed-language note writes "SORT 用 Kalman filter ..." and "DeepSORT 加了一個 ...": each
    paragraph is about the name it opens with, though MiniLM reads the Chinese as noise. In an
    English passage, which MiniLM reads, a name in the middle of a sentence does not vouch for
    it."""
    weak = Evidence(0.2, 0.2, 0.0)
    mixed = _passage(
        "MOT 筆記",
        "SORT 用 Kalman filter 預測位置，再用 Hungarian algorithm 匹配。\n\n"
        "DeepSORT 加了一個 appearance embedding，遮擋後比較能接回 ID。\n\n"
        "評估指標：MOTA 主要看 FP、FN 和 ID switch。\n",
    )
    question = "What is the difference between SORT and DeepSORT?"
    assert refusal_reason(question, [mixed], weak, settings) is None
    english = _passage("Tracking", "The leaderboard ranks trackers by MOTA, IDF1 and HOTA.\n")
    assert "evidence" in refusal_reason("What does MOTA measure?", [english], weak, settings)
    # ... also after a list marker: a numbered question of a Q&A list ("5. NDS 是什麼？")
    listed = _passage(
        "指標 Q&A", "5. NDS 是什麼？\n   nuScenes detection score，結合 mAP 跟 TP error。\n"
    )
    assert refusal_reason("What is NDS?", [listed], weak, settings) is None


def test_a_chinese_question_is_about_a_note_that_writes_only_the_acronym() -> None:
    """ "非極大值抑制" is the glossary's non-maximum suppression, whose acronym is NMS: a note
    that only writes "NMS" shares the question's topic."""
    card = "Q: What does NMS do? A: keeps the top box and drops the ones that overlap it."
    assert zh_anchored("什麼是非極大值抑制？", [card])
    assert not zh_anchored("什麼是非極大值抑制？", ["Q: What is dropout? A: it zeroes units."])


def test_a_chinese_question_on_a_term_the_notes_only_list_is_refused(settings: Settings) -> None:
    """A list of topics names knowledge distillation and says nothing of it: "什麼是知識蒸餾？"
    is a near miss (the English question is refused by its evidence score, which says nothing
    of a Chinese one). A line that explains the term answers it."""
    weak = Evidence(0.2, 0.2, 0.0)
    listed = _passage(
        "ML on the edge",
        "- Model compression\n  - Knowledge distillation\n  - Pruning\n  - Quantization\n",
    )
    why = refusal_reason("什麼是知識蒸餾？", [listed], weak, settings)
    assert why is not None and "only name knowledge distillation" in why
    said = _passage(
        "Compression",
        "- Knowledge distillation: a small student learns to match the teacher's soft labels.\n",
    )
    assert refusal_reason("什麼是知識蒸餾？", [listed, said], weak, settings) is None


def test_a_phrase_written_all_but_its_last_word_leaves_it_to_the_evidence(
    settings: Settings,
) -> None:
    """A question on a method the notes head or mark ("AdamW", a table row "ATSS") may word a
    generic glossary phrase its own way ("L2 regularization" where the note writes "Adam + L2"):
    that phrase does not refuse it, the evidence score decides. A question with no such name is
    held to its phrase ("gradient clipping"), as is one missing a modifier ("speculative")."""
    strong, weak = Evidence(0.6, 0.6, 1.0), Evidence(0.2, 0.2, 0.0)
    adamw = _passage(
        "Optimizers > AdamW vs Adam + L2",
        "With Adam, an L2 term added to the loss passes through the adaptive denominator; "
        "AdamW decouples the decay from the step.",
    )
    question = "What is the difference between AdamW and Adam with L2 regularization?"
    assert refusal_reason(question, [adamw], strong, settings) is None
    assert "evidence" in refusal_reason(question, [adamw], weak, settings)
    atss = _passage(
        "Detection > Label assignment",
        "Which predictions count as positives matters.\n\n"
        "| strategy | rule |\n|---|---|\n| ATSS | 9 closest anchors per level |\n",
    )
    assert (
        refusal_reason("How does ATSS choose positive samples?", [atss], strong, settings) is None
    )
    clip = _passage("Training", "Exploding gradients make the loss spike; lower the learning rate.")
    why = refusal_reason("How does gradient clipping work?", [clip], strong, settings)
    assert why == "no passage names gradient clipping"
    # a name of the question the notes do not head or mark: the phrase must be written whole
    plain = _passage("Training", "Then AdamW keeps an L2 term in the loss.")
    assert "l2 regularization" in refusal_reason(
        "Does AdamW use L2 regularization?", [plain], strong, settings
    )

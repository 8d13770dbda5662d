from stickpose import skeleton


def test_flip_index_swaps_each_pair_and_is_an_involution():
    flip = skeleton.FLIP_INDEX
    for a, b in skeleton.FLIP_PAIRS:
        assert flip[a] == b and flip[b] == a
    assert [flip[j] for j in flip] == list(range(skeleton.NUM_JOINTS))
    assert {j for j in range(16) if flip[j] == j} == {6, 7, 8, 9}


def test_chains_draw_exactly_the_limbs():
    from_chains = {tuple(sorted(pair)) for chain in skeleton.LIMB_CHAINS
                   for pair in zip(chain, chain[1:])}
    assert from_chains == {tuple(sorted(limb)) for limb in skeleton.LIMBS}


def test_line_thickness_follows_design():
    assert skeleton.line_thickness(224) == 4
    assert skeleton.line_thickness(128) == 2
    assert skeleton.line_thickness(32) == 1


def test_lsp_mapping_points_at_the_named_joints():
    lsp_names = ["r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist",
                 "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "upper_neck",
                 "head_top"]
    assert [skeleton.JOINT_NAMES[j] for j in skeleton.LSP_TO_SKELETON] == lsp_names

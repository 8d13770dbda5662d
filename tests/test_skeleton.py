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


def test_observer_centric_labels_follow_the_image():
    import numpy as np
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 100, (500, 16, 2))
    relabelled = skeleton.observer_centric(keypoints)
    assert (relabelled[:, 12, 0] <= relabelled[:, 13, 0]).all()     # r_shoulder on the left
    assert (relabelled[:, 2, 0] <= relabelled[:, 3, 0]).all()       # r_hip on the left
    swapped_arms = keypoints[:, 12, 0] > keypoints[:, 13, 0]
    np.testing.assert_array_equal(relabelled[swapped_arms, 10], keypoints[swapped_arms, 15])
    np.testing.assert_array_equal(relabelled[~swapped_arms, 10], keypoints[~swapped_arms, 10])
    swapped_legs = keypoints[:, 2, 0] > keypoints[:, 3, 0]
    np.testing.assert_array_equal(relabelled[swapped_legs, 0], keypoints[swapped_legs, 5])
    np.testing.assert_array_equal(relabelled[:, 6:10], keypoints[:, 6:10])   # centre joints
    assert 0.3 < swapped_arms.mean() < 0.7

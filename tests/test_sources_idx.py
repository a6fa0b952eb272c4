from deltanet.sources.idx import is_idx_folder, load_idx


def test_a_folder_of_idx_files_is_mnist_shaped(tiny_data, tmp_path):
    assert is_idx_folder(str(tiny_data)) and not is_idx_folder(str(tmp_path))
    data = load_idx(str(tiny_data))
    assert data.kind == "idx" and data.classes is None and data.n_features == 784
    assert data.n_classes == 10 and data.labels == tuple(range(10))
    assert load_idx(None).source == "embedded MNIST"

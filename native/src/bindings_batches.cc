// Planned-batch gathers (seqkit.data.batches) and packing by token budget.
#include "bindings_internal.h"

#include <algorithm>

namespace seqkit::py {

// ------------------------------------------------------------- planned-batch gathers

using ReadOnly1D = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu, nb::ndim<1>>;
using Int64Array = nb::ndarray<const std::int64_t, nb::c_contig, nb::device::cpu, nb::ndim<1>>;
using OffsetArray = nb::ndarray<const std::uint64_t, nb::c_contig, nb::device::cpu, nb::ndim<1>>;

TokenColumn token_column(const ReadOnly1D& tokens, const OffsetArray& offsets) {
  std::optional<DType> dt = from_dl(tokens.dtype());
  if (!dt || (*dt != DType::kUInt16 && *dt != DType::kUInt32)) {
    throw nb::type_error("token ids must be a uint16 or uint32 array");
  }
  if (offsets.shape(0) < 1) throw nb::value_error("offsets must hold at least one entry");
  TokenColumn c;
  c.dtype = *dt;
  c.tokens = tokens.data();
  c.num_tokens = static_cast<std::int64_t>(tokens.shape(0));
  c.offsets = offsets.data();
  c.num_documents = static_cast<std::int64_t>(offsets.shape(0)) - 1;
  return c;
}

// A heap int64 buffer handed to NumPy, which frees it.
nb::ndarray<nb::numpy, std::int64_t> owned_int64(std::vector<std::int64_t>&& values,
                                                 std::vector<std::size_t> shape) {
  auto* held = new std::vector<std::int64_t>(std::move(values));
  nb::capsule owner(held, [](void* p) noexcept { delete static_cast<std::vector<std::int64_t>*>(p); });
  return nb::ndarray<nb::numpy, std::int64_t>(held->data(), shape.size(), shape.data(), owner);
}

Int64Array as_int64(nb::handle array, const char* what) {
  Int64Array out;
  if (!nb::try_cast(array, out, false)) {
    throw nb::type_error((std::string(what) + " must be a contiguous int64 array").c_str());
  }
  return out;
}

// ids and order may be int32 (plans over large datasets) or int64.
const void* index_data(nb::handle array, const char* what, bool& is_int32, std::int64_t& size) {
  ReadOnly1D arr;
  if (!nb::try_cast(array, arr, false)) throw nb::type_error((std::string(what) + " must be a 1-d array").c_str());
  std::optional<DType> dt = from_dl(arr.dtype());
  if (!dt || (*dt != DType::kInt32 && *dt != DType::kInt64)) {
    throw nb::type_error((std::string(what) + " must be an int32 or int64 array").c_str());
  }
  is_int32 = *dt == DType::kInt32;
  size = static_cast<std::int64_t>(arr.shape(0));
  return arr.data();
}

PyPlannedGather* make_planned_gather(const std::string& kind, nb::list datasets, std::vector<std::int64_t> pad_values,
                                     std::int64_t seq_len, nb::handle ids, nb::handle bounds,
                                     nb::handle dataset_starts, nb::handle order) {
  auto* g = new PyPlannedGather();
  std::unique_ptr<PyPlannedGather> owner(g);
  PlannedBatches& p = g->batches;
  if (kind == "windows") {
    p.kind = PlannedBatches::Kind::kWindows;
    if (seq_len < 1) throw nb::value_error("seq_len must be at least 1");
  } else if (kind == "padded") {
    p.kind = PlannedBatches::Kind::kPadded;
  } else {
    throw nb::value_error("kind must be 'windows' or 'padded'");
  }
  p.seq_len = seq_len;
  p.pad_values = std::move(pad_values);
  for (nb::handle dataset : datasets) {
    std::vector<TokenColumn> columns;
    for (nb::handle column : dataset) {
      nb::tuple pair = nb::cast<nb::tuple>(column);
      ReadOnly1D tokens = nb::cast<ReadOnly1D>(pair[0]);
      OffsetArray offsets = nb::cast<OffsetArray>(pair[1]);
      columns.push_back(token_column(tokens, offsets));
      g->keep.push_back(nb::borrow(pair[0]));
      g->keep.push_back(nb::borrow(pair[1]));
    }
    if (columns.empty()) throw nb::value_error("a dataset needs at least one column");
    if (p.kind == PlannedBatches::Kind::kWindows && columns.size() != 1) {
      throw nb::value_error("windows read one column per dataset");
    }
    if (p.kind == PlannedBatches::Kind::kPadded && columns.size() != p.pad_values.size()) {
      throw nb::value_error("one pad value per column");
    }
    p.datasets.push_back(std::move(columns));
  }
  if (p.datasets.empty()) throw nb::value_error("a plan needs at least one dataset");
  std::int64_t num_ids = 0, num_order = 0;
  p.ids = index_data(ids, "ids", p.ids_int32, num_ids);
  p.order = index_data(order, "order", p.order_int32, num_order);
  p.num_positions = num_order;
  Int64Array b = as_int64(bounds, "bounds"), starts = as_int64(dataset_starts, "dataset_starts");
  if (static_cast<std::size_t>(starts.shape(0)) != p.datasets.size() + 1) {
    throw nb::value_error("dataset_starts must hold one entry per dataset and the total");
  }
  const std::int64_t num_batches = static_cast<std::int64_t>(b.shape(0)) - 1;
  if (num_batches < 0 || starts.data()[p.datasets.size()] != num_batches) {
    throw nb::value_error("bounds and dataset_starts disagree on the number of batches");
  }
  for (std::int64_t k = 0; k < num_batches; ++k) {
    if (b.data()[k] < 0 || b.data()[k] > b.data()[k + 1] || b.data()[k + 1] > num_ids) {
      throw nb::value_error("bounds must rise within the ids");
    }
  }
  for (std::int64_t i = 0; i < num_order; ++i) {
    const std::int64_t k = p.order_int32 ? static_cast<const std::int32_t*>(p.order)[i]
                                         : static_cast<const std::int64_t*>(p.order)[i];
    if (k < 0 || k >= num_batches) throw nb::value_error("order names a batch the plan does not have");
  }
  p.bounds = b.data();
  p.dataset_starts = starts.data();
  for (nb::handle h : {ids, bounds, dataset_starts, order}) g->keep.push_back(nb::borrow(h));
  owner.release();
  return g;
}

nb::tuple py_pack_by_budget(const std::vector<Int64Array>& lengths, std::int64_t max_tokens,
                            std::int64_t max_batch_size) {
  if (lengths.empty()) throw nb::value_error("pack_by_budget needs at least one column of lengths");
  if (max_tokens < 1) throw nb::value_error("max_tokens must be at least 1");
  const auto n = static_cast<std::int64_t>(lengths[0].shape(0));
  std::vector<const std::int64_t*> columns;
  for (const auto& col : lengths) {
    if (static_cast<std::int64_t>(col.shape(0)) != n) throw nb::value_error("the length columns differ in size");
    columns.push_back(col.data());
  }
  std::vector<std::int64_t> kept;
  std::vector<std::int64_t> too_long;
  std::vector<std::int64_t> bounds;
  {
    nb::gil_scoped_release nogil;
    kept.reserve(static_cast<std::size_t>(n));
    bounds = pack_by_budget(columns, n, max_tokens, max_batch_size, kept, too_long);
  }
  const std::size_t nk = kept.size(), nb_ = bounds.size(), nt = too_long.size();
  return nb::make_tuple(owned_int64(std::move(kept), {nk}), owned_int64(std::move(bounds), {nb_}),
                        owned_int64(std::move(too_long), {nt}));
}

void register_batches(nb::module_& m) {
  nb::class_<PyPlannedGather>(m, "PlannedGather",
                               "One epoch's planned batches as a native map step (seqkit.data.batches).")
      .def(nb::new_(&make_planned_gather), nb::arg("kind"), nb::arg("datasets"), nb::arg("pad_values"),
           nb::arg("seq_len"), nb::arg("ids"), nb::arg("bounds"), nb::arg("dataset_starts"), nb::arg("order"))
      .def_prop_ro("num_batches", [](const PyPlannedGather& g) { return g.batches.num_positions; });
  m.def("pack_by_budget", &py_pack_by_budget, nb::arg("lengths"), nb::arg("max_tokens"),
        nb::arg("max_batch_size") = 0, "Cut ordered examples into batches within a padded-token budget.");
}

}  // namespace seqkit::py

//! The kernels as a Burn backend extension: the trait, its CubeCL implementation, and its Fusion
//! implementation (a custom operation in the fusion stream that runs the CubeCL one when the
//! stream executes, so the decode graph records it with the step's other kernels).

#[cfg(feature = "cuda")]
use burn::backend::Cuda;
#[cfg(feature = "metal")]
use burn::backend::Metal;
#[cfg(feature = "wgpu")]
use burn::backend::Vulkan;
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::{CubeBackend, CubeRuntime};
use burn_fusion::stream::{Operation, StreamId};
use burn_fusion::{Fusion, FusionBackend, FusionRuntime, FusionTensor};
use super::decode_attention::{AttentionParams, StepAttention};
use super::gemv::{Extra, Fused, Gemv};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};

/// Decode-step kernels of this runner (see the module docs of `kernels`); each takes its tensors
/// as one struct, defined beside its kernel.
#[backend_extension(Cuda: cfg(feature = "cuda"), Vulkan: cfg(feature = "wgpu"), Metal: cfg(feature = "metal"))]
pub trait DecodeKernels: burn::backend::Backend {
    /// `x · w_rowsᵀ` with what `fused` and the third input fold in ([`Gemv`]).
    fn gemv_rows(#[extension_type] inputs: Gemv<Self>, fused: Fused) -> FloatTensor<Self>;
    /// RMSNorm of `x` over its last axis; `weight` `[w_rows, width]`, row r of `x` takes weight
    /// row `r % w_rows`.
    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self>;
    /// One decode step's attention from the fused q/k/v output: returns the query heads' outputs
    /// `[1, 1, heads * head_dim]` and the caches with the step's key and value written (in place).
    fn decode_attention(#[extension_type] inputs: StepAttention<Self>, params: AttentionParams) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl<R: CubeRuntime> DecodeKernels for CubeBackend<R> {
    fn gemv_rows(inputs: Gemv<Self>, fused: Fused) -> FloatTensor<Self> {
        super::gemv::gemv_rows(inputs, fused)
    }

    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self> {
        super::rms_norm::rms_norm_rows(x, weight, eps)
    }

    fn decode_attention(inputs: StepAttention<Self>, params: AttentionParams) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        super::decode_attention::decode_attention(inputs, params)
    }
}

type Handles<B> = HandleContainer<<<B as FusionBackend>::FusionRuntime as FusionRuntime>::FusionHandle>;

/// A kernel call recorded in the fusion stream: when the stream executes, `run` takes the inner
/// backend's tensors named by `desc`'s inputs, calls the kernel with `params`, and registers its
/// results under `desc`'s outputs.
struct CustomOp<B: FusionBackend, P> {
    desc: CustomOpIr,
    params: P,
    run: fn(&CustomOpIr, P, &mut Handles<B>),
}

impl<B: FusionBackend, P: core::fmt::Debug> core::fmt::Debug for CustomOp<B, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CustomOp").field("desc", &self.desc).field("params", &self.params).finish()
    }
}

impl<B: FusionBackend, P: Copy + Send + Sync + core::fmt::Debug> Operation<B::FusionRuntime> for CustomOp<B, P> {
    fn execute(&self, handles: &mut Handles<B>) {
        (self.run)(&self.desc, self.params, handles)
    }
}

/// Records `name` with `inputs` and outputs of the given shapes and dtypes in the current fusion
/// stream (parameters that are not tensors travel in `params`, not in the description) and
/// returns the output tensors.
fn register<B: FusionBackend, P: Copy + Send + Sync + core::fmt::Debug + 'static, const O: usize>(
    name: &'static str,
    inputs: Vec<FusionTensor<B::FusionRuntime>>,
    outputs: [(Shape, DType); O],
    params: P,
    run: fn(&CustomOpIr, P, &mut Handles<B>),
) -> [FusionTensor<B::FusionRuntime>; O] {
    let client = inputs[0].client.clone();
    let outputs = outputs.map(|(shape, dtype)| TensorIr::uninit(client.create_empty_handle(), shape, dtype));
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let desc = CustomOpIr::new(name, &inputs, &outputs);
    let operation = CustomOp::<B, P> { desc: desc.clone(), params, run };
    client.register(StreamId::current(), OperationIr::Custom(desc), operation).outputs()
}

impl<B: FusionBackend + DecodeKernels> DecodeKernels for Fusion<B> {
    fn gemv_rows(inputs: Gemv<Self>, fused: Fused) -> FloatTensor<Self> {
        let Gemv { x, w_rows, extra } = inputs;
        let mut shape = x.shape.clone();
        let rank = shape.num_dims();
        shape[rank - 1] = if fused.glu { w_rows.shape[0] / 2 } else { w_rows.shape[0] };
        let dtype = x.dtype;
        let (kind, third) = match extra {
            Extra::Neither => (ExtraKind::Neither, None),
            Extra::Residual(t) => (ExtraKind::Residual, Some(t)),
            Extra::NormWeight(t) => (ExtraKind::NormWeight, Some(t)),
        };
        let inputs = [Some(x), Some(w_rows), third].into_iter().flatten().collect();
        let [out] = register::<B, (Fused, ExtraKind), 1>("qwen3_gemv_rows", inputs, [(shape, dtype)], (fused, kind), |desc, (fused, kind), h| {
            let mut inputs = desc.inputs.iter().map(|t| h.get_float_tensor::<B>(t)).collect::<Vec<_>>().into_iter();
            let (x, w_rows) = (inputs.next().unwrap(), inputs.next().unwrap());
            let extra = match kind {
                ExtraKind::Neither => Extra::Neither,
                ExtraKind::Residual => Extra::Residual(inputs.next().unwrap()),
                ExtraKind::NormWeight => Extra::NormWeight(inputs.next().unwrap()),
            };
            h.register_float_tensor::<B>(&desc.outputs[0].id, B::gemv_rows(Gemv { x, w_rows, extra }, fused));
        });
        out
    }

    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self> {
        let (shape, dtype) = (x.shape.clone(), x.dtype);
        // The eps travels in the operation, not the description: one model has one eps.
        let [out] = register::<B, f32, 1>("qwen3_rms_norm_rows", vec![x, weight], [(shape, dtype)], eps, |desc, eps, h| {
            let ([x, weight], [out]) = desc.as_fixed();
            let y = B::rms_norm_rows(h.get_float_tensor::<B>(x), h.get_float_tensor::<B>(weight), eps);
            h.register_float_tensor::<B>(&out.id, y);
        });
        out
    }

    fn decode_attention(inputs: StepAttention<Self>, params: AttentionParams) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let StepAttention { qkv, norm, cos, sin, position, k_cache, v_cache } = inputs;
        let heads = norm.shape[0] - k_cache.shape[1];
        let out = (Shape::from(vec![1, 1, heads * k_cache.shape[3]]), qkv.dtype);
        let cache = (k_cache.shape.clone(), k_cache.dtype);
        let inputs = vec![qkv, norm, cos, sin, position, k_cache, v_cache];
        let [out, keys, values] = register::<B, AttentionParams, 3>("qwen3_decode_attention", inputs, [out, cache.clone(), cache], params, |desc, params, h| {
            let ([qkv, norm, cos, sin, position, k_cache, v_cache], [out, k_out, v_out]) = desc.as_fixed();
            let inputs = StepAttention {
                qkv: h.get_float_tensor::<B>(qkv),
                norm: h.get_float_tensor::<B>(norm),
                cos: h.get_float_tensor::<B>(cos),
                sin: h.get_float_tensor::<B>(sin),
                position: h.get_int_tensor::<B>(position),
                k_cache: h.get_float_tensor::<B>(k_cache),
                v_cache: h.get_float_tensor::<B>(v_cache),
            };
            let (y, keys, values) = B::decode_attention(inputs, params);
            h.register_float_tensor::<B>(&out.id, y);
            h.register_float_tensor::<B>(&k_out.id, keys);
            h.register_float_tensor::<B>(&v_out.id, values);
        });
        (out, keys, values)
    }
}

/// Which third input a recorded product has (its tensor travels in the description's inputs).
#[derive(Debug, Clone, Copy)]
enum ExtraKind {
    Neither,
    Residual,
    NormWeight,
}

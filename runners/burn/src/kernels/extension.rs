//! The kernels as a Burn backend extension: the trait, its CubeCL implementation, and its Fusion
//! implementation (a custom operation in the fusion stream that runs the CubeCL one when the
//! stream executes, so the decode graph records it with the step's other kernels).

#[cfg(feature = "cuda")]
use burn::backend::Cuda;
#[cfg(feature = "metal")]
use burn::backend::Metal;
#[cfg(feature = "wgpu")]
use burn::backend::Vulkan;
use burn::backend::{backend_extension, tensor::{FloatTensor, IntTensor}};
use burn::tensor::Shape;
use burn_cubecl::{CubeBackend, CubeRuntime};
use burn_fusion::stream::{Operation, StreamId};
use burn_fusion::{Fusion, FusionBackend, FusionRuntime};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};

/// Decode-step kernels of this runner (see the module docs of `kernels`).
#[backend_extension(Cuda: cfg(feature = "cuda"), Vulkan: cfg(feature = "wgpu"), Metal: cfg(feature = "metal"))]
pub trait DecodeKernels: burn::backend::Backend {
    /// `x` `[.., in]` holding one row, times `w_rows` `[out, in]` -> `[.., out]`.
    fn gemv_rows(x: FloatTensor<Self>, w_rows: FloatTensor<Self>) -> FloatTensor<Self>;
    /// RMSNorm of `x` over its last axis; `weight` `[w_rows, width]`, row r of `x` takes weight
    /// row `r % w_rows`.
    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self>;
    /// One decode step's attention from the fused q/k/v output: returns the query heads' outputs
    /// `[1, 1, heads * head_dim]` and the caches with the step's key and value written (in place).
    #[allow(clippy::too_many_arguments)]
    fn decode_attention(
        qkv: FloatTensor<Self>,
        norm: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        position: IntTensor<Self>,
        k_cache: FloatTensor<Self>,
        v_cache: FloatTensor<Self>,
        eps: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl<R: CubeRuntime> DecodeKernels for CubeBackend<R> {
    fn gemv_rows(x: FloatTensor<Self>, w_rows: FloatTensor<Self>) -> FloatTensor<Self> {
        super::gemv::gemv_rows(x, w_rows)
    }

    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self> {
        super::rms_norm::rms_norm_rows(x, weight, eps)
    }

    fn decode_attention(
        qkv: FloatTensor<Self>,
        norm: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        position: IntTensor<Self>,
        k_cache: FloatTensor<Self>,
        v_cache: FloatTensor<Self>,
        eps: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let a = super::decode_attention::decode_attention(qkv, norm, cos, sin, position, k_cache, v_cache, eps);
        (a.out, a.k_cache, a.v_cache)
    }
}

impl<B: FusionBackend + DecodeKernels> DecodeKernels for Fusion<B> {
    fn gemv_rows(x: FloatTensor<Self>, w_rows: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GemvRows<B> {
            desc: CustomOpIr,
            _backend: core::marker::PhantomData<B>,
        }

        impl<B1: FusionBackend + DecodeKernels> Operation<B1::FusionRuntime> for GemvRows<B1> {
            fn execute(&self, handles: &mut HandleContainer<<B1::FusionRuntime as FusionRuntime>::FusionHandle>) {
                let ([x, w_rows], [out]) = self.desc.as_fixed();
                let output = B1::gemv_rows(handles.get_float_tensor::<B1>(x), handles.get_float_tensor::<B1>(w_rows));
                handles.register_float_tensor::<B1>(&out.id, output);
            }
        }

        let client = x.client.clone();
        let mut out_shape = x.shape.clone();
        let rank = out_shape.num_dims();
        out_shape[rank - 1] = w_rows.shape[0];
        let out = TensorIr::uninit(client.create_empty_handle(), Shape::from(out_shape), x.dtype);
        let desc = CustomOpIr::new("qwen3_gemv_rows", &[x.into_ir(), w_rows.into_ir()], &[out]);
        let operation = GemvRows::<B> { desc: desc.clone(), _backend: core::marker::PhantomData };
        client.register(StreamId::current(), OperationIr::Custom(desc), operation).output()
    }

    fn rms_norm_rows(x: FloatTensor<Self>, weight: FloatTensor<Self>, eps: f32) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct RmsNormRows<B> {
            desc: CustomOpIr,
            eps: f32,
            _backend: core::marker::PhantomData<B>,
        }

        impl<B1: FusionBackend + DecodeKernels> Operation<B1::FusionRuntime> for RmsNormRows<B1> {
            fn execute(&self, handles: &mut HandleContainer<<B1::FusionRuntime as FusionRuntime>::FusionHandle>) {
                let ([x, weight], [out]) = self.desc.as_fixed();
                let output = B1::rms_norm_rows(handles.get_float_tensor::<B1>(x), handles.get_float_tensor::<B1>(weight), self.eps);
                handles.register_float_tensor::<B1>(&out.id, output);
            }
        }

        let client = x.client.clone();
        let out = TensorIr::uninit(client.create_empty_handle(), x.shape.clone(), x.dtype);
        // The eps travels in the operation, not the description: one model has one eps.
        let desc = CustomOpIr::new("qwen3_rms_norm_rows", &[x.into_ir(), weight.into_ir()], &[out]);
        let operation = RmsNormRows::<B> { desc: desc.clone(), eps, _backend: core::marker::PhantomData };
        client.register(StreamId::current(), OperationIr::Custom(desc), operation).output()
    }
    fn decode_attention(
        qkv: FloatTensor<Self>,
        norm: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        position: IntTensor<Self>,
        k_cache: FloatTensor<Self>,
        v_cache: FloatTensor<Self>,
        eps: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        #[derive(Debug)]
        struct DecodeAttention<B> {
            desc: CustomOpIr,
            eps: f32,
            _backend: core::marker::PhantomData<B>,
        }

        impl<B1: FusionBackend + DecodeKernels> Operation<B1::FusionRuntime> for DecodeAttention<B1> {
            fn execute(&self, handles: &mut HandleContainer<<B1::FusionRuntime as FusionRuntime>::FusionHandle>) {
                let ([qkv, norm, cos, sin, position, k_cache, v_cache], [out, k_out, v_out]) = self.desc.as_fixed();
                let (output, keys, values) = B1::decode_attention(
                    handles.get_float_tensor::<B1>(qkv),
                    handles.get_float_tensor::<B1>(norm),
                    handles.get_float_tensor::<B1>(cos),
                    handles.get_float_tensor::<B1>(sin),
                    handles.get_int_tensor::<B1>(position),
                    handles.get_float_tensor::<B1>(k_cache),
                    handles.get_float_tensor::<B1>(v_cache),
                    self.eps,
                );
                handles.register_float_tensor::<B1>(&out.id, output);
                handles.register_float_tensor::<B1>(&k_out.id, keys);
                handles.register_float_tensor::<B1>(&v_out.id, values);
            }
        }

        let client = qkv.client.clone();
        let heads = norm.shape[0] - k_cache.shape[1];
        let out_shape = Shape::from(vec![1, 1, heads * k_cache.shape[3]]);
        let out = TensorIr::uninit(client.create_empty_handle(), out_shape, qkv.dtype);
        let k_out = TensorIr::uninit(client.create_empty_handle(), k_cache.shape.clone(), k_cache.dtype);
        let v_out = TensorIr::uninit(client.create_empty_handle(), v_cache.shape.clone(), v_cache.dtype);
        let inputs = [qkv.into_ir(), norm.into_ir(), cos.into_ir(), sin.into_ir(), position.into_ir(), k_cache.into_ir(), v_cache.into_ir()];
        let desc = CustomOpIr::new("qwen3_decode_attention", &inputs, &[out, k_out, v_out]);
        let operation = DecodeAttention::<B> { desc: desc.clone(), eps, _backend: core::marker::PhantomData };
        let [out, keys, values] = client.register(StreamId::current(), OperationIr::Custom(desc), operation).outputs();
        (out, keys, values)
    }
}

//! What every kernel's launch asks of the device and of the shapes: the plane width, the number of
//! streaming multiprocessors, and the widest 16-byte vector a row divides into. One module, so the
//! kernels do not reach into each other for it. The shapes' part is plain arithmetic, compiled
//! (and tested) without a CubeCL backend too.

use burn::tensor::DType;
#[cfg(feature = "kernels")]
use burn::tensor::Device;
#[cfg(feature = "kernels")]
use cubecl::ir::features::Plane;
#[cfg(feature = "kernels")]
use cubecl::prelude::*;

/// The plane width to launch with, or why the device cannot run the kernels: plane operations and
/// one fixed plane size are required (NVIDIA and Apple GPUs have one; some Vulkan drivers vary it).
#[cfg(feature = "kernels")]
pub fn plane_width<R: Runtime>(client: &ComputeClient<R>) -> Result<u32, String> {
    let properties = client.properties();
    if !properties.features.plane.contains(Plane::Ops) {
        return Err("the device has no plane (warp/subgroup) operations".into());
    }
    let hardware = &properties.hardware;
    if hardware.plane_size_min != hardware.plane_size_max {
        return Err(format!("the device's plane size varies ({}..{})", hardware.plane_size_min, hardware.plane_size_max));
    }
    Ok(hardware.plane_size_max)
}

/// The widest vector (in elements, at most 16 bytes) that divides `in_features`.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
pub fn vector_width(in_features: usize, dtype: DType) -> usize {
    vector_width_bytes(in_features, dtype.size())
}

/// [`vector_width`] for elements of `elem_bytes` bytes.
pub fn vector_width_bytes(in_features: usize, elem_bytes: usize) -> usize {
    let max = 16 / elem_bytes;
    (0..=max.trailing_zeros()).map(|p| max >> p).find(|w| in_features % w == 0).unwrap_or(1)
}

#[cfg(feature = "kernels")]
/// What the launches of a device depend on, read once from the device (at load, for the choices
/// made there, and by `--bench-kernels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The plane (warp, subgroup) width, [`plane_width`].
    pub plane: u32,
    /// Streaming multiprocessors (compute units); `None` where the runtime does not say (wgpu).
    pub multiprocessors: Option<u32>,
}

#[cfg(feature = "kernels")]
impl DeviceFacts {
    fn of<R: Runtime>(client: &ComputeClient<R>) -> Result<Self, String> {
        Ok(Self { plane: plane_width(client)?, multiprocessors: client.properties().hardware.num_streaming_multiprocessors })
    }

    /// The facts of `device`, or why its backend cannot run the kernels.
    pub fn of_device(device: &Device) -> Result<Self, String> {
        use burn_dispatch::DispatchDevice;
        match device.as_dispatch() {
            #[cfg(feature = "cuda")]
            DispatchDevice::Cuda(device) => Self::of(&cubecl::cuda::CudaRuntime::client(device)),
            #[cfg(feature = "wgpu")]
            DispatchDevice::Vulkan(device) => Self::of(&cubecl::wgpu::WgpuRuntime::<cubecl::wgpu::SpirvCompiler>::client(device)),
            #[cfg(feature = "metal")]
            DispatchDevice::Metal(device) => Self::of(&cubecl::wgpu::WgpuRuntime::<cubecl::wgpu::MslCompiler>::client(device)),
            #[allow(unreachable_patterns)]
            other => Err(format!("{other:?} is not a CubeCL device (cuda, wgpu, metal)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_width_is_the_widest_divisor_up_to_16_bytes() {
        assert_eq!(vector_width(1024, DType::F16), 8);
        assert_eq!(vector_width(1024, DType::F32), 4);
        assert_eq!(vector_width(12, DType::F16), 4);
        assert_eq!(vector_width(7, DType::F16), 1);
        assert_eq!(vector_width(6, DType::F32), 2);
    }
}

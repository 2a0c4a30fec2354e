//===- VulkanDevice.cpp - the runtime's Vulkan compute device --------------===//
#include "runtime/vulkan/VulkanDevice.h"

#include "runtime/src/PinTable.h"

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

using namespace xf::rt;

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

// The Vulkan entry points the device uses, loaded through vkGetInstanceProcAddr.
#define XF_VK_GLOBAL_FUNCTIONS(X)                                                                                     \
  X(vkCreateInstance)                                                                                                  \
  X(vkEnumerateInstanceLayerProperties)                                                                                \
  X(vkEnumerateInstanceExtensionProperties)
#define XF_VK_INSTANCE_FUNCTIONS(X)                                                                                   \
  X(vkDestroyInstance)                                                                                                 \
  X(vkEnumeratePhysicalDevices)                                                                                        \
  X(vkGetPhysicalDeviceProperties)                                                                                     \
  X(vkGetPhysicalDeviceProperties2)                                                                                    \
  X(vkGetPhysicalDeviceFeatures2)                                                                                      \
  X(vkGetPhysicalDeviceQueueFamilyProperties)                                                                          \
  X(vkGetPhysicalDeviceMemoryProperties)                                                                               \
  X(vkCreateDevice)                                                                                                    \
  X(vkDestroyDevice)                                                                                                   \
  X(vkGetDeviceQueue)                                                                                                  \
  X(vkCreateBuffer)                                                                                                    \
  X(vkDestroyBuffer)                                                                                                   \
  X(vkGetBufferMemoryRequirements)                                                                                     \
  X(vkAllocateMemory)                                                                                                  \
  X(vkFreeMemory)                                                                                                      \
  X(vkBindBufferMemory)                                                                                                \
  X(vkMapMemory)                                                                                                       \
  X(vkCreateShaderModule)                                                                                              \
  X(vkDestroyShaderModule)                                                                                             \
  X(vkCreateDescriptorSetLayout)                                                                                       \
  X(vkDestroyDescriptorSetLayout)                                                                                      \
  X(vkCreatePipelineLayout)                                                                                            \
  X(vkDestroyPipelineLayout)                                                                                           \
  X(vkCreateComputePipelines)                                                                                          \
  X(vkDestroyPipeline)                                                                                                 \
  X(vkCreateDescriptorPool)                                                                                            \
  X(vkDestroyDescriptorPool)                                                                                           \
  X(vkAllocateDescriptorSets)                                                                                          \
  X(vkResetDescriptorPool)                                                                                             \
  X(vkUpdateDescriptorSets)                                                                                            \
  X(vkCreateCommandPool)                                                                                               \
  X(vkDestroyCommandPool)                                                                                              \
  X(vkAllocateCommandBuffers)                                                                                          \
  X(vkBeginCommandBuffer)                                                                                              \
  X(vkEndCommandBuffer)                                                                                                \
  X(vkResetCommandBuffer)                                                                                              \
  X(vkCmdBindPipeline)                                                                                                 \
  X(vkCmdBindDescriptorSets)                                                                                           \
  X(vkCmdPushConstants)                                                                                                \
  X(vkCmdDispatch)                                                                                                     \
  X(vkCmdCopyBuffer)                                                                                                   \
  X(vkCmdPipelineBarrier)                                                                                              \
  X(vkCreateQueryPool)                                                                                                 \
  X(vkDestroyQueryPool)                                                                                                \
  X(vkCmdResetQueryPool)                                                                                               \
  X(vkCmdWriteTimestamp)                                                                                               \
  X(vkGetQueryPoolResults)                                                                                             \
  X(vkCreateFence)                                                                                                     \
  X(vkDestroyFence)                                                                                                    \
  X(vkResetFences)                                                                                                     \
  X(vkWaitForFences)                                                                                                   \
  X(vkQueueSubmit)

struct Loader {
  void *library = nullptr;
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define XF_VK_DECLARE(name) PFN_##name name = nullptr;
  XF_VK_GLOBAL_FUNCTIONS(XF_VK_DECLARE)
  XF_VK_INSTANCE_FUNCTIONS(XF_VK_DECLARE)
#undef XF_VK_DECLARE
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT = nullptr;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT = nullptr;

  llvm::Error openLibrary() {
    library = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library)
      return error("no Vulkan loader (libvulkan.so.1 could not be opened; install libvulkan1 and a Vulkan driver)");
    vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library, "vkGetInstanceProcAddr"));
    if (!vkGetInstanceProcAddr)
      return error("libvulkan.so.1 has no vkGetInstanceProcAddr");
#define XF_VK_LOAD(name)                                                                                               \
  name = reinterpret_cast<PFN_##name>(vkGetInstanceProcAddr(nullptr, #name));                                          \
  if (!name)                                                                                                           \
    return error("the Vulkan loader lacks " #name);
    XF_VK_GLOBAL_FUNCTIONS(XF_VK_LOAD)
#undef XF_VK_LOAD
    return llvm::Error::success();
  }

  llvm::Error loadInstanceFunctions(VkInstance instance) {
#define XF_VK_LOAD(name)                                                                                               \
  name = reinterpret_cast<PFN_##name>(vkGetInstanceProcAddr(instance, #name));                                         \
  if (!name)                                                                                                           \
    return error("the Vulkan loader lacks " #name);
    XF_VK_INSTANCE_FUNCTIONS(XF_VK_LOAD)
#undef XF_VK_LOAD
    vkCreateDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    vkDestroyDebugUtilsMessengerEXT = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
    return llvm::Error::success();
  }

  ~Loader() {
    if (library)
      dlclose(library);
  }
};

std::string resultName(VkResult result) {
  switch (result) {
  case VK_ERROR_OUT_OF_HOST_MEMORY:
    return "out of host memory";
  case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    return "out of device memory";
  case VK_ERROR_INITIALIZATION_FAILED:
    return "initialization failed";
  case VK_ERROR_DEVICE_LOST:
    return "device lost";
  case VK_ERROR_LAYER_NOT_PRESENT:
    return "layer not present";
  case VK_ERROR_EXTENSION_NOT_PRESENT:
    return "extension not present";
  case VK_ERROR_FEATURE_NOT_PRESENT:
    return "feature not present";
  case VK_ERROR_INCOMPATIBLE_DRIVER:
    return "incompatible driver (no Vulkan ICD found)";
  case VK_TIMEOUT:
    return "timeout";
  default:
    return "VkResult " + std::to_string(static_cast<int>(result));
  }
}

llvm::Error check(VkResult result, const char *what) {
  if (result == VK_SUCCESS)
    return llvm::Error::success();
  return error(llvm::Twine(what) + " failed: " + resultName(result));
}

const char *typeName(VkPhysicalDeviceType type) {
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
    return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
    return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
    return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU:
    return "CPU";
  default:
    return "other";
  }
}

/// A zeroed Vulkan info struct of type `type`.
template <typename T>
T make(VkStructureType type) {
  T value{};
  value.sType = type;
  return value;
}

bool validationRequested() {
  const char *value = std::getenv("XF_VULKAN_VALIDATION");
  return value && *value && std::strcmp(value, "0") != 0;
}

} // namespace

struct VulkanDevice::Impl {
  Loader vk;
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties properties{};
  VkPhysicalDeviceSubgroupProperties subgroup{};
  bool storage16 = false, float16 = false, int16 = false; // enabled 16-bit features (bf16 and f16 operands)
  VkPhysicalDeviceMemoryProperties memory{};
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queueFamily = 0;
  VkCommandPool commandPool = VK_NULL_HANDLE;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  /// Two timestamps around each dispatch, where the queue has them: the kernel's own time.
  VkQueryPool timestamps = VK_NULL_HANDLE;
  uint32_t timestampBits = 0;
  double lastKernelSeconds = -1;
  std::string name;
  std::mutex mutex; // one dispatch at a time

  /// Dispatches whose every buffer is pinned are recorded, not submitted: they read and write device
  /// copies only, so nothing on the host waits for them until it reads something (download) or dispatches
  /// on host operands, which submits the batch first (flush). Each recorded dispatch takes a descriptor set
  /// of its own from batchPool. With staged pins the copies to and from them are recorded too.
  static constexpr uint32_t kBatchSets = 256, kBatchDescriptors = kBatchSets * 16;
  VkDescriptorPool batchPool = VK_NULL_HANDLE;
  uint32_t batched = 0, batchedDescriptors = 0, batchedCopies = 0; // recorded since the last flush
  /// The buffers the recorded commands use: unpinning one of them must wait for the batch, others need not.
  llvm::DenseSet<VkBuffer> batchBuffers;

  /// Where pinned copies live. Staged: in device-local memory the host does not map, filled and read
  /// back by copies through `staging`, recorded into the batch. That is the only way to use a discrete
  /// GPU's memory beyond its host-visible window (256 MB without resizable BAR), so it is the default on
  /// every device that has device-local memory the host cannot map; elsewhere (integrated GPUs, CPU
  /// implementations) pinned copies are host-visible and the host copies with memcpy.
  /// XF_VULKAN_STAGING=1 or 0 in the environment forces either.
  bool staged = false;
  /// The batch's staging bytes, bump-allocated and reused after each flush; uploads are written into it
  /// when recorded, downloads (pendingReads) read out of it after the flush.
  static constexpr VkDeviceSize kStagingChunk = VkDeviceSize(64) << 20;
  struct PendingRead {
    void *host;
    VkDeviceSize from;
    size_t bytes;
  };
  std::vector<PendingRead> pendingReads;
  VkDeviceSize stagingUsed = 0;
  const bool logSubmits = [] {
    const char *setting = std::getenv("XF_VULKAN_LOG_SUBMITS");
    return setting && std::strcmp(setting, "1") == 0;
  }();
  /// A flush that failed where no error could be returned (unpin), reported by the next call that can.
  std::string deferredFailure;

  // Validation messages since the last check; the callback may run on any thread.
  std::mutex messagesMutex;
  std::vector<std::string> messages;

  struct Pipeline {
    VkShaderModule shader = VK_NULL_HANDLE;
    VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VkDescriptorSet set = VK_NULL_HANDLE;
  };
  llvm::DenseMap<const void *, Pipeline> pipelines;

  /// Host-visible buffers, one per binding slot, grown on demand and reused across dispatches.
  struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize capacity = 0;
    void *mapped = nullptr;
  };
  std::vector<Buffer> buffers;
  /// Pinned host arrays' device copies.
  PinTable<Buffer> pinned;
  Buffer staging;
  /// What a buffer is for: a dispatch's host operand (mapped), a staged pin (device-local, unmapped), or
  /// staging (mapped, the source and destination of copies).
  enum class Use { Operand, Device, Staging };

  static VKAPI_ATTR VkBool32 VKAPI_CALL onMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                  VkDebugUtilsMessageTypeFlagsEXT,
                                                  const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    auto *self = static_cast<Impl *>(user);
    std::lock_guard<std::mutex> lock(self->messagesMutex);
    self->messages.push_back(
        (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error: " : "warning: ") +
        std::string(data && data->pMessage ? data->pMessage : "(no message)"));
    return VK_FALSE;
  }

  llvm::Error takeValidationMessages() {
    std::lock_guard<std::mutex> lock(messagesMutex);
    if (messages.empty())
      return llvm::Error::success();
    std::string text = "Vulkan validation " + messages.front();
    if (messages.size() > 1)
      text += llvm::formatv(" (and {0} more)", messages.size() - 1).str();
    messages.clear();
    return error(text);
  }

  llvm::Error createInstance() {
    if (llvm::Error err = vk.openLibrary())
      return err;
    std::vector<const char *> layers, extensions;
    if (validationRequested()) {
      uint32_t count = 0;
      vk.vkEnumerateInstanceLayerProperties(&count, nullptr);
      std::vector<VkLayerProperties> available(count);
      vk.vkEnumerateInstanceLayerProperties(&count, available.data());
      bool found = llvm::any_of(available, [](const VkLayerProperties &layer) {
        return std::strcmp(layer.layerName, "VK_LAYER_KHRONOS_validation") == 0;
      });
      if (!found)
        return error("XF_VULKAN_VALIDATION is set but VK_LAYER_KHRONOS_validation is not installed "
                     "(Debian: vulkan-validationlayers)");
      layers.push_back("VK_LAYER_KHRONOS_validation");
      extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    auto app = make<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
    app.pApplicationName = "xf";
    app.pEngineName = "xfrt";
    app.apiVersion = VK_API_VERSION_1_2; // 1.1 devices work too; 1.2 adds shaderFloat16 (f16 operands)
    auto info = make<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layers.size());
    info.ppEnabledLayerNames = layers.data();
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    VkResult created = vk.vkCreateInstance(&info, nullptr, &instance);
    if (created == VK_ERROR_INCOMPATIBLE_DRIVER)
      return error("no Vulkan driver found (the loader found no ICD; install one, e.g. mesa-vulkan-drivers for "
                   "lavapipe)");
    if (llvm::Error err = check(created, "vkCreateInstance"))
      return err;
    if (llvm::Error err = vk.loadInstanceFunctions(instance))
      return err;
    if (!layers.empty()) {
      if (!vk.vkCreateDebugUtilsMessengerEXT)
        return error("the validation layer is enabled but VK_EXT_debug_utils is missing");
      auto debug = make<VkDebugUtilsMessengerCreateInfoEXT>(VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
      debug.messageSeverity =
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      debug.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT;
      debug.pfnUserCallback = onMessage;
      debug.pUserData = this;
      if (llvm::Error err = check(vk.vkCreateDebugUtilsMessengerEXT(instance, &debug, nullptr, &messenger),
                                  "vkCreateDebugUtilsMessengerEXT"))
        return err;
    }
    return llvm::Error::success();
  }

  llvm::Expected<std::vector<VkPhysicalDevice>> physicalDevices() {
    uint32_t count = 0;
    if (llvm::Error err = check(vk.vkEnumeratePhysicalDevices(instance, &count, nullptr), "vkEnumeratePhysicalDevices"))
      return std::move(err);
    std::vector<VkPhysicalDevice> devices(count);
    if (llvm::Error err =
            check(vk.vkEnumeratePhysicalDevices(instance, &count, devices.data()), "vkEnumeratePhysicalDevices"))
      return std::move(err);
    devices.resize(count);
    return devices;
  }

  llvm::Error createDevice(int index) {
    llvm::Expected<std::vector<VkPhysicalDevice>> devices = physicalDevices();
    if (!devices)
      return devices.takeError();
    if (devices->empty())
      return error("no Vulkan device (the loader found no physical device; install a driver, e.g. "
                   "mesa-vulkan-drivers for lavapipe)");
    if (index >= static_cast<int>(devices->size()))
      return error(llvm::formatv("no Vulkan device {0}: there are {1} (xf-run devices lists them)", index,
                                 devices->size()));
    if (index < 0) {
      // Prefer a discrete GPU, then an integrated one, then whatever exists (a CPU implementation).
      int best = 0, bestRank = 3;
      for (auto [i, candidate] : llvm::enumerate(*devices)) {
        VkPhysicalDeviceProperties p;
        vk.vkGetPhysicalDeviceProperties(candidate, &p);
        int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 0
                   : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 1
                                                                            : 2;
        if (rank < bestRank) {
          best = static_cast<int>(i);
          bestRank = rank;
        }
      }
      index = best;
    }
    physical = (*devices)[index];
    vk.vkGetPhysicalDeviceProperties(physical, &properties);
    vk.vkGetPhysicalDeviceMemoryProperties(physical, &memory);
    staged = wantsStaging();
    name = llvm::formatv("vulkan:{0} ({1})", index, properties.deviceName).str();
    subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    VkPhysicalDeviceProperties2 withSubgroup{};
    withSubgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    withSubgroup.pNext = &subgroup;
    vk.vkGetPhysicalDeviceProperties2(physical, &withSubgroup);

    uint32_t familyCount = 0;
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &familyCount, nullptr);
    std::vector<VkQueueFamilyProperties> families(familyCount);
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &familyCount, families.data());
    auto compute = llvm::find_if(families, [](const VkQueueFamilyProperties &f) {
      return (f.queueFlags & VK_QUEUE_COMPUTE_BIT) && f.queueCount > 0;
    });
    if (compute == families.end())
      return error(name + ": no queue family supports compute");
    queueFamily = static_cast<uint32_t>(compute - families.begin());

    float priority = 1.0f;
    auto queueInfo = make<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
    queueInfo.queueFamilyIndex = queueFamily;
    queueInfo.queueCount = 1;
    queueInfo.pQueuePriorities = &priority;
    // Kernels on 16-bit operands read 16-bit storage buffers: f16 ones convert f16 values, bf16 ones work
    // on i16 words. Whatever of that the device has is enabled; nothing else is needed.
    auto storage16Features =
        make<VkPhysicalDevice16BitStorageFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
    auto float16Features =
        make<VkPhysicalDeviceShaderFloat16Int8Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES);
    bool vulkan12 = properties.apiVersion >= VK_API_VERSION_1_2; // shaderFloat16 is core from 1.2
    if (vulkan12)
      storage16Features.pNext = &float16Features;
    auto supported = make<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
    supported.pNext = &storage16Features;
    vk.vkGetPhysicalDeviceFeatures2(physical, &supported);
    storage16 = storage16Features.storageBuffer16BitAccess;
    float16 = float16Features.shaderFloat16;
    int16 = supported.features.shaderInt16;
    auto enabledStorage16 =
        make<VkPhysicalDevice16BitStorageFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
    enabledStorage16.storageBuffer16BitAccess = storage16;
    auto enabledFloat16 =
        make<VkPhysicalDeviceShaderFloat16Int8Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES);
    enabledFloat16.shaderFloat16 = float16;
    if (vulkan12)
      enabledStorage16.pNext = &enabledFloat16;
    VkPhysicalDeviceFeatures enabled{};
    enabled.shaderInt16 = int16;
    auto deviceInfo = make<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
    deviceInfo.pNext = &enabledStorage16;
    deviceInfo.queueCreateInfoCount = 1;
    deviceInfo.pQueueCreateInfos = &queueInfo;
    deviceInfo.pEnabledFeatures = &enabled;
    if (llvm::Error err = check(vk.vkCreateDevice(physical, &deviceInfo, nullptr, &device), "vkCreateDevice"))
      return err;
    vk.vkGetDeviceQueue(device, queueFamily, 0, &queue);

    auto poolInfo = make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    poolInfo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    poolInfo.queueFamilyIndex = queueFamily;
    if (llvm::Error err = check(vk.vkCreateCommandPool(device, &poolInfo, nullptr, &commandPool), "vkCreateCommandPool"))
      return err;
    auto allocInfo = make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    allocInfo.commandPool = commandPool;
    allocInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocInfo.commandBufferCount = 1;
    if (llvm::Error err = check(vk.vkAllocateCommandBuffers(device, &allocInfo, &commands), "vkAllocateCommandBuffers"))
      return err;
    auto fenceInfo = make<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
    if (llvm::Error err = check(vk.vkCreateFence(device, &fenceInfo, nullptr, &fence), "vkCreateFence"))
      return err;
    timestampBits = compute->timestampValidBits;
    if (timestampBits && properties.limits.timestampPeriod > 0) {
      auto queryInfo = make<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
      queryInfo.queryType = VK_QUERY_TYPE_TIMESTAMP;
      queryInfo.queryCount = 2;
      if (vk.vkCreateQueryPool(device, &queryInfo, nullptr, &timestamps) != VK_SUCCESS)
        timestamps = VK_NULL_HANDLE; // the kernel time is then unknown, nothing else changes
    }
    return takeValidationMessages();
  }

  /// The memory types a buffer for `use` may take, best first. Operands and unstaged pins: host-visible and
  /// coherent so the host copies with memcpy, device-local first (resizable BAR, integrated GPUs, CPU
  /// implementations); a discrete GPU without resizable BAR has only a small device-local, host-visible
  /// heap (256 MB), and what does not fit there goes to host memory the device reads over the bus. Staging:
  /// host-visible and coherent, cached first (the host reads downloads from it). Staged pins: device-local
  /// first, then anything (copies reach every type).
  llvm::SmallVector<uint32_t> memoryTypesFor(uint32_t allowed, Use use) {
    const VkMemoryPropertyFlags mapped = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkMemoryPropertyFlags preferred = use == Use::Staging ? VK_MEMORY_PROPERTY_HOST_CACHED_BIT
                                                                : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    llvm::SmallVector<uint32_t> first, other;
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
      VkMemoryPropertyFlags flags = memory.memoryTypes[i].propertyFlags;
      if (!(allowed & (1u << i)) || (use != Use::Device && (flags & mapped) != mapped))
        continue;
      (flags & preferred ? first : other).push_back(i);
    }
    first.append(other.begin(), other.end());
    return first;
  }

  /// Whether the device has device-local memory the host cannot map (a discrete GPU's), unless
  /// XF_VULKAN_STAGING says otherwise.
  bool wantsStaging() const {
    if (const char *setting = std::getenv("XF_VULKAN_STAGING"); setting && *setting)
      return std::strcmp(setting, "0") != 0;
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
      if ((memory.memoryTypes[i].propertyFlags &
           (VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) ==
          VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
        return true;
    return false;
  }

  void destroyBuffer(Buffer &buffer) {
    if (buffer.buffer)
      vk.vkDestroyBuffer(device, buffer.buffer, nullptr);
    if (buffer.memory)
      vk.vkFreeMemory(device, buffer.memory, nullptr); // unmaps
    buffer = Buffer();
  }

  llvm::Error ensureBuffer(size_t slot, VkDeviceSize bytes) {
    if (buffers.size() <= slot)
      buffers.resize(slot + 1);
    return ensureCapacity(buffers[slot], bytes, Use::Operand);
  }

  llvm::Error ensureCapacity(Buffer &buffer, VkDeviceSize bytes, Use use) {
    // Vulkan buffers cannot be empty; an empty operand still gets a small one.
    bytes = std::max<VkDeviceSize>(bytes, 16);
    if (buffer.capacity >= bytes)
      return llvm::Error::success();
    destroyBuffer(buffer);
    auto info = make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
    info.size = bytes;
    info.usage = use == Use::Staging ? VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT
                 : use == Use::Device
                     ? VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                           VK_BUFFER_USAGE_TRANSFER_DST_BIT
                     : VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    if (llvm::Error err = check(vk.vkCreateBuffer(device, &info, nullptr, &buffer.buffer), "vkCreateBuffer"))
      return err;
    VkMemoryRequirements requirements;
    vk.vkGetBufferMemoryRequirements(device, buffer.buffer, &requirements);
    llvm::SmallVector<uint32_t> types = memoryTypesFor(requirements.memoryTypeBits, use);
    if (types.empty())
      return error(name + ": no host-visible, coherent memory type for " +
                   (use == Use::Staging ? "staging buffers" : "storage buffers"));
    auto alloc = make<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
    alloc.allocationSize = requirements.size;
    VkResult allocated = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    for (uint32_t type : types) {
      alloc.memoryTypeIndex = type;
      allocated = vk.vkAllocateMemory(device, &alloc, nullptr, &buffer.memory);
      if (allocated != VK_ERROR_OUT_OF_DEVICE_MEMORY && allocated != VK_ERROR_OUT_OF_HOST_MEMORY)
        break; // a heap that is full goes on to the next type; anything else is the answer
    }
    if (llvm::Error err =
            check(allocated, llvm::formatv("vkAllocateMemory ({0} bytes)", requirements.size).str().c_str()))
      return err;
    if (llvm::Error err = check(vk.vkBindBufferMemory(device, buffer.buffer, buffer.memory, 0), "vkBindBufferMemory"))
      return err;
    if (use != Use::Device)
      if (llvm::Error err =
              check(vk.vkMapMemory(device, buffer.memory, 0, VK_WHOLE_SIZE, 0, &buffer.mapped), "vkMapMemory"))
        return err;
    buffer.capacity = bytes;
    return llvm::Error::success();
  }

  llvm::Expected<Pipeline *> pipelineFor(const VulkanKernel &kernel) {
    auto found = pipelines.find(kernel.spirv);
    if (found != pipelines.end())
      return &found->second;
    Pipeline p;
    auto fail = [&](llvm::Error err) -> llvm::Expected<Pipeline *> {
      destroyPipeline(p);
      return std::move(err);
    };
    auto shaderInfo = make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    shaderInfo.codeSize = kernel.spirvBytes;
    shaderInfo.pCode = static_cast<const uint32_t *>(kernel.spirv);
    if (llvm::Error err = check(vk.vkCreateShaderModule(device, &shaderInfo, nullptr, &p.shader), "vkCreateShaderModule"))
      return fail(std::move(err));

    std::vector<VkDescriptorSetLayoutBinding> bindings(kernel.numBuffers);
    for (uint32_t i = 0; i < kernel.numBuffers; ++i) {
      bindings[i].binding = i;
      bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    auto setInfo = make<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
    setInfo.bindingCount = kernel.numBuffers;
    setInfo.pBindings = bindings.data();
    if (llvm::Error err =
            check(vk.vkCreateDescriptorSetLayout(device, &setInfo, nullptr, &p.setLayout), "vkCreateDescriptorSetLayout"))
      return fail(std::move(err));

    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, 4 * kernel.numPushConstants};
    auto layoutInfo = make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
    layoutInfo.setLayoutCount = 1;
    layoutInfo.pSetLayouts = &p.setLayout;
    layoutInfo.pushConstantRangeCount = kernel.numPushConstants ? 1 : 0;
    layoutInfo.pPushConstantRanges = &range;
    if (llvm::Error err = check(vk.vkCreatePipelineLayout(device, &layoutInfo, nullptr, &p.layout), "vkCreatePipelineLayout"))
      return fail(std::move(err));

    auto pipelineInfo = make<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
    pipelineInfo.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pipelineInfo.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pipelineInfo.stage.module = p.shader;
    pipelineInfo.stage.pName = kernel.entryPoint.c_str();
    pipelineInfo.layout = p.layout;
    if (llvm::Error err = check(vk.vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &pipelineInfo, nullptr, &p.pipeline),
                                "vkCreateComputePipelines"))
      return fail(std::move(err));

    VkDescriptorPoolSize poolSize{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(kernel.numBuffers, 1)};
    auto poolInfo = make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
    poolInfo.maxSets = 1;
    poolInfo.poolSizeCount = 1;
    poolInfo.pPoolSizes = &poolSize;
    if (llvm::Error err = check(vk.vkCreateDescriptorPool(device, &poolInfo, nullptr, &p.pool), "vkCreateDescriptorPool"))
      return fail(std::move(err));
    auto allocInfo = make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
    allocInfo.descriptorPool = p.pool;
    allocInfo.descriptorSetCount = 1;
    allocInfo.pSetLayouts = &p.setLayout;
    if (llvm::Error err = check(vk.vkAllocateDescriptorSets(device, &allocInfo, &p.set), "vkAllocateDescriptorSets"))
      return fail(std::move(err));
    if (llvm::Error err = takeValidationMessages())
      return fail(std::move(err));
    return &(pipelines[kernel.spirv] = p);
  }

  void destroyPipeline(Pipeline &p) {
    if (p.pool)
      vk.vkDestroyDescriptorPool(device, p.pool, nullptr);
    if (p.pipeline)
      vk.vkDestroyPipeline(device, p.pipeline, nullptr);
    if (p.layout)
      vk.vkDestroyPipelineLayout(device, p.layout, nullptr);
    if (p.setLayout)
      vk.vkDestroyDescriptorSetLayout(device, p.setLayout, nullptr);
    if (p.shader)
      vk.vkDestroyShaderModule(device, p.shader, nullptr);
  }

  /// Begins the batch's command buffer if nothing is recorded yet; otherwise records a barrier that makes
  /// the batch's earlier shader and transfer writes visible to the next command (stage `next`, accesses
  /// `access`), and orders it after their reads.
  llvm::Error openBatch(VkPipelineStageFlags next, VkAccessFlags access) {
    if (!deferredFailure.empty())
      return error(std::exchange(deferredFailure, std::string()));
    if (batched + batchedCopies == 0) {
      vk.vkResetCommandBuffer(commands, 0);
      auto begin = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
      begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      return check(vk.vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer");
    }
    auto barrier = make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = access;
    vk.vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, next, 0,
                            1, &barrier, 0, nullptr, 0, nullptr);
    return llvm::Error::success();
  }

  /// Appends a dispatch on pinned buffers to the batch (see batchPool).
  llvm::Error record(const VulkanKernel &kernel, Pipeline &p, llvm::ArrayRef<VulkanBinding> bindings,
                     llvm::ArrayRef<int32_t> pushConstants, uint32_t groups) {
    if (batched == kBatchSets || batchedDescriptors + kernel.numBuffers > kBatchDescriptors)
      if (llvm::Error err = flush())
        return err;
    if (!batchPool) {
      VkDescriptorPoolSize poolSize{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kBatchDescriptors};
      auto poolInfo = make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
      poolInfo.maxSets = kBatchSets;
      poolInfo.poolSizeCount = 1;
      poolInfo.pPoolSizes = &poolSize;
      if (llvm::Error err = check(vk.vkCreateDescriptorPool(device, &poolInfo, nullptr, &batchPool),
                                  "vkCreateDescriptorPool"))
        return err;
    }
    if (llvm::Error err =
            openBatch(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT))
      return err;
    VkDescriptorSet set = VK_NULL_HANDLE;
    auto allocInfo = make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
    allocInfo.descriptorPool = batchPool;
    allocInfo.descriptorSetCount = 1;
    allocInfo.pSetLayouts = &p.setLayout;
    if (llvm::Error err = check(vk.vkAllocateDescriptorSets(device, &allocInfo, &set), "vkAllocateDescriptorSets"))
      return err;
    std::vector<VkDescriptorBufferInfo> infos(bindings.size());
    std::vector<VkWriteDescriptorSet> writes(bindings.size());
    for (size_t i = 0; i < bindings.size(); ++i) {
      infos[i] = {pinned.find(bindings[i].data, bindings[i].bytes).copy->buffer, 0, VK_WHOLE_SIZE};
      batchBuffers.insert(infos[i].buffer);
      writes[i] = make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      writes[i].dstSet = set;
      writes[i].dstBinding = static_cast<uint32_t>(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vk.vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
    vk.vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
    vk.vkCmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
    if (!pushConstants.empty())
      vk.vkCmdPushConstants(commands, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                            static_cast<uint32_t>(4 * pushConstants.size()), pushConstants.data());
    vk.vkCmdDispatch(commands, groups, 1, 1);
    ++batched;
    batchedDescriptors += kernel.numBuffers;
    lastKernelSeconds = -1;
    return takeValidationMessages();
  }

  /// Appends a copy between two buffers to the batch.
  llvm::Error recordCopy(VkBuffer from, VkDeviceSize fromOffset, VkBuffer to, VkDeviceSize toOffset,
                         VkDeviceSize bytes) {
    if (llvm::Error err =
            openBatch(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT))
      return err;
    VkBufferCopy region{fromOffset, toOffset, bytes};
    vk.vkCmdCopyBuffer(commands, from, to, 1, &region);
    batchBuffers.insert(from);
    batchBuffers.insert(to);
    ++batchedCopies;
    return llvm::Error::success();
  }

  /// `bytes` (at most kStagingChunk) of the staging buffer for the batch. When they do not fit, the batch
  /// is flushed first, and the buffer doubles up to kStagingChunk.
  llvm::Expected<VkDeviceSize> stagingFor(VkDeviceSize bytes) {
    VkDeviceSize at = (stagingUsed + 15) / 16 * 16;
    if (at + bytes > staging.capacity) {
      if (llvm::Error err = flush())
        return std::move(err);
      at = 0;
      if (staging.capacity < kStagingChunk) {
        VkDeviceSize grown = std::min(std::max({2 * staging.capacity, bytes, VkDeviceSize(1) << 20}), kStagingChunk);
        destroyBuffer(staging);
        if (llvm::Error err = ensureCapacity(staging, grown, Use::Staging))
          return std::move(err);
      }
    }
    stagingUsed = at + bytes;
    return at;
  }

  /// Records copies of host bytes into a staged pin's buffer, through staging.
  llvm::Error upload(const Buffer &to, VkDeviceSize offset, const uint8_t *host, size_t bytes) {
    for (size_t done = 0; done < bytes;) {
      VkDeviceSize chunk = std::min<VkDeviceSize>(bytes - done, kStagingChunk);
      llvm::Expected<VkDeviceSize> at = stagingFor(chunk);
      if (!at)
        return at.takeError();
      std::memcpy(static_cast<uint8_t *>(staging.mapped) + *at, host + done, chunk);
      if (llvm::Error err = recordCopy(staging.buffer, *at, to.buffer, offset + done, chunk))
        return err;
      done += chunk;
    }
    return llvm::Error::success();
  }

  /// Submits the recorded commands and waits for them; their writes are then visible to the host, and
  /// the downloads they staged are copied out.
  llvm::Error flush() {
    if (!deferredFailure.empty())
      return error(std::exchange(deferredFailure, std::string()));
    if (batched + batchedCopies == 0)
      return llvm::Error::success();
    uint32_t dispatches = std::exchange(batched, 0), copies = std::exchange(batchedCopies, 0);
    batchedDescriptors = 0;
    stagingUsed = 0;
    batchBuffers.clear();
    auto barrier = make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vk.vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
    llvm::Error err = submitAndWait(dispatches, copies);
    if (batchPool && dispatches)
      vk.vkResetDescriptorPool(device, batchPool, 0);
    std::vector<PendingRead> reads = std::exchange(pendingReads, {});
    if (err)
      return err;
    for (const PendingRead &read : reads)
      std::memcpy(read.host, static_cast<const uint8_t *>(staging.mapped) + read.from, read.bytes);
    return takeValidationMessages();
  }

  /// Ends the command buffer of `dispatches` dispatches and `copies` copies, submits it and waits for its
  /// fence. With XF_VULKAN_LOG_SUBMITS=1 in the environment each submission is logged to stderr.
  llvm::Error submitAndWait(uint32_t dispatches, uint32_t copies = 0) {
    if (logSubmits)
      std::fprintf(stderr, "xf-vulkan: submit %u dispatch%s%s\n", dispatches, dispatches == 1 ? "" : "es",
                   copies ? llvm::formatv(", {0} cop{1}", copies, copies == 1 ? "y" : "ies").str().c_str() : "");
    if (llvm::Error err = check(vk.vkEndCommandBuffer(commands), "vkEndCommandBuffer"))
      return err;
    auto submit = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &commands;
    if (llvm::Error err = check(vk.vkResetFences(device, 1, &fence), "vkResetFences"))
      return err;
    if (llvm::Error err = check(vk.vkQueueSubmit(queue, 1, &submit, fence), "vkQueueSubmit"))
      return err;
    return check(vk.vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  }

  llvm::Error dispatch(const VulkanKernel &kernel, llvm::ArrayRef<VulkanBinding> bindings,
                       llvm::ArrayRef<int32_t> pushConstants, uint32_t groups) {
    if (bindings.size() != kernel.numBuffers || pushConstants.size() != kernel.numPushConstants)
      return error(llvm::formatv("kernel '{0}' takes {1} buffers and {2} push constants, got {3} and {4}",
                                 kernel.entryPoint, kernel.numBuffers, kernel.numPushConstants, bindings.size(),
                                 pushConstants.size()));
    if (kernel.workgroupSize > properties.limits.maxComputeWorkGroupSize[0] ||
        kernel.workgroupSize > properties.limits.maxComputeWorkGroupInvocations)
      return error(llvm::formatv("kernel '{0}' has workgroups of {1} threads, {2} allows {3} (recompile with a "
                                 "smaller xfc --workgroup-size)",
                                 kernel.entryPoint, kernel.workgroupSize, name,
                                 std::min(properties.limits.maxComputeWorkGroupSize[0],
                                          properties.limits.maxComputeWorkGroupInvocations)));
    if (kernel.subgroupLanes) {
      bool shuffles = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                      (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
      if (!shuffles || subgroup.subgroupSize < kernel.subgroupLanes)
        return error(llvm::formatv(
            "kernel '{0}' runs {1} lanes of one subgroup together, but {2} has {3} (recompile with xfc "
            "--gpu-subgroup-lanes={4})",
            kernel.entryPoint, kernel.subgroupLanes, name,
            shuffles ? llvm::formatv("subgroups of {0}", subgroup.subgroupSize).str()
                     : std::string("no subgroup shuffles in compute shaders"),
            shuffles && subgroup.subgroupSize >= 2 ? llvm::formatv("{0} or 0", subgroup.subgroupSize).str()
                                                   : std::string("0")));
    }
    if (kernel.workgroupMemory > properties.limits.maxComputeSharedMemorySize)
      return error(llvm::formatv("kernel '{0}' declares {1} bytes of workgroup memory, {2} allows {3} (recompile "
                                 "with a smaller xfc --gpu-workgroup-memory)",
                                 kernel.entryPoint, kernel.workgroupMemory, name,
                                 properties.limits.maxComputeSharedMemorySize));
    if (4 * pushConstants.size() > properties.limits.maxPushConstantsSize)
      return error(llvm::formatv("kernel '{0}' needs {1} bytes of push constants, {2} allows {3}", kernel.entryPoint,
                                 4 * pushConstants.size(), name, properties.limits.maxPushConstantsSize));
    if (groups > properties.limits.maxComputeWorkGroupCount[0])
      return error(llvm::formatv("kernel '{0}' needs {1} workgroups, {2} allows {3} in one dispatch",
                                 kernel.entryPoint, groups, name, properties.limits.maxComputeWorkGroupCount[0]));
    if (groups == 0)
      return llvm::Error::success();
    llvm::Expected<Pipeline *> pipeline = pipelineFor(kernel);
    if (!pipeline)
      return pipeline.takeError();
    Pipeline &p = **pipeline;
    if (llvm::all_of(bindings, [&](const VulkanBinding &binding) {
          PinTable<Buffer>::Found pin = pinned.find(binding.data, binding.bytes);
          return pin.copy && (!binding.download || pin.resident);
        }))
      return record(kernel, p, bindings, pushConstants, groups);
    if (llvm::Error err = flush())
      return err;

    std::vector<VkDescriptorBufferInfo> infos(bindings.size());
    std::vector<VkWriteDescriptorSet> writes(bindings.size());
    // Pinned arrays are bound in place: inputs always, outputs when resident (the copy is their truth).
    std::vector<bool> inPlace(bindings.size());
    for (size_t i = 0; i < bindings.size(); ++i)
      if (pinned.insideResident(bindings[i].data))
        return error(llvm::formatv("kernel '{0}': operand {1} points inside an array kept on the device, whose host "
                                   "copy is stale; bind it from the array's start",
                                   kernel.entryPoint, i));
    for (size_t i = 0; i < bindings.size(); ++i) {
      PinTable<Buffer>::Found pin = pinned.find(bindings[i].data, bindings[i].bytes);
      inPlace[i] = pin.copy && (!bindings[i].download || pin.resident);
      if (inPlace[i]) {
        infos[i] = {pin.copy->buffer, 0, VK_WHOLE_SIZE};
      } else {
        if (llvm::Error err = ensureBuffer(i, bindings[i].bytes))
          return err;
        if (bindings[i].bytes)
          std::memcpy(buffers[i].mapped, bindings[i].data, bindings[i].bytes);
        infos[i] = {buffers[i].buffer, 0, VK_WHOLE_SIZE};
      }
      writes[i] = make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      writes[i].dstSet = p.set;
      writes[i].dstBinding = static_cast<uint32_t>(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vk.vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);

    vk.vkResetCommandBuffer(commands, 0);
    auto begin = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    if (llvm::Error err = check(vk.vkBeginCommandBuffer(commands, &begin), "vkBeginCommandBuffer"))
      return err;
    vk.vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
    vk.vkCmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &p.set, 0, nullptr);
    if (!pushConstants.empty())
      vk.vkCmdPushConstants(commands, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                            static_cast<uint32_t>(4 * pushConstants.size()), pushConstants.data());
    if (timestamps) {
      vk.vkCmdResetQueryPool(commands, timestamps, 0, 2);
      vk.vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps, 0);
    }
    vk.vkCmdDispatch(commands, groups, 1, 1);
    if (timestamps)
      vk.vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, 1);
    // The fence orders execution only; the barrier makes the shader's writes visible to host reads.
    auto barrier = make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vk.vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier,
                            0, nullptr, 0, nullptr);
    if (llvm::Error err = submitAndWait(1))
      return err;
    for (size_t i = 0; i < bindings.size(); ++i)
      if (bindings[i].download && !inPlace[i] && bindings[i].bytes)
        std::memcpy(bindings[i].data, buffers[i].mapped, bindings[i].bytes);
    lastKernelSeconds = -1;
    uint64_t ticks[2] = {};
    if (timestamps && vk.vkGetQueryPoolResults(device, timestamps, 0, 2, sizeof(ticks), ticks, sizeof(uint64_t),
                                               VK_QUERY_RESULT_64_BIT) == VK_SUCCESS) {
      uint64_t mask = timestampBits >= 64 ? ~0ull : (1ull << timestampBits) - 1;
      lastKernelSeconds = static_cast<double>((ticks[1] - ticks[0]) & mask) * properties.limits.timestampPeriod * 1e-9;
    }
    return takeValidationMessages();
  }

  ~Impl() {
    if (device) {
      llvm::consumeError(flush());
      if (batchPool)
        vk.vkDestroyDescriptorPool(device, batchPool, nullptr);
      pinned.clear([&](Buffer &buffer) { destroyBuffer(buffer); });
      destroyBuffer(staging);
      for (auto &entry : pipelines)
        destroyPipeline(entry.second);
      for (Buffer &buffer : buffers)
        destroyBuffer(buffer);
      if (fence)
        vk.vkDestroyFence(device, fence, nullptr);
      if (timestamps)
        vk.vkDestroyQueryPool(device, timestamps, nullptr);
      if (commandPool)
        vk.vkDestroyCommandPool(device, commandPool, nullptr);
      vk.vkDestroyDevice(device, nullptr);
    }
    if (messenger && vk.vkDestroyDebugUtilsMessengerEXT)
      vk.vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
    if (instance)
      vk.vkDestroyInstance(instance, nullptr);
  }
};

VulkanDevice::VulkanDevice(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
VulkanDevice::~VulkanDevice() = default;

llvm::Expected<std::unique_ptr<VulkanDevice>> VulkanDevice::open(int index) {
  auto impl = std::make_unique<Impl>();
  if (llvm::Error err = impl->createInstance())
    return std::move(err);
  if (llvm::Error err = impl->createDevice(index))
    return std::move(err);
  return std::unique_ptr<VulkanDevice>(new VulkanDevice(std::move(impl)));
}

llvm::Expected<std::vector<std::string>> VulkanDevice::describeDevices() {
  Impl impl;
  if (llvm::Error err = impl.createInstance())
    return std::move(err);
  llvm::Expected<std::vector<VkPhysicalDevice>> devices = impl.physicalDevices();
  if (!devices)
    return devices.takeError();
  std::vector<std::string> lines;
  for (auto [i, device] : llvm::enumerate(*devices)) {
    VkPhysicalDeviceSubgroupProperties subgroup{};
    subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    VkPhysicalDeviceProperties2 properties{};
    properties.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    properties.pNext = &subgroup;
    impl.vk.vkGetPhysicalDeviceProperties2(device, &properties);
    const VkPhysicalDeviceProperties &p = properties.properties;
    // What compute shaders may do across a subgroup (attention's subgroup form shuffles).
    std::string operations;
    if (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT)
      for (auto [bit, name] : {std::pair{VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
                               {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
                               {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
                               {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"}})
        if (subgroup.supportedOperations & bit)
          operations += (operations.empty() ? "" : " ") + std::string(name);
    // The workgroup memory bounds what a kernel's staged tiles and split partial states may take.
    lines.push_back(llvm::formatv("vulkan:{0}: {1} ({2}, Vulkan {3}.{4}.{5}, subgroups of {6}: {7}; {8} KiB "
                                  "workgroup memory)",
                                  i, p.deviceName, typeName(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion),
                                  VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion),
                                  subgroup.subgroupSize, operations.empty() ? "no compute operations" : operations,
                                  p.limits.maxComputeSharedMemorySize / 1024)
                        .str());
  }
  return lines;
}

const std::string &VulkanDevice::name() const { return impl->name; }

bool VulkanDevice::isLlvmpipe() const { return llvm::StringRef(impl->properties.deviceName).starts_with("llvmpipe"); }

const char *VulkanDevice::missingFor(xfrt_dtype dtype) const {
  if (dtype == XFRT_F32)
    return nullptr;
  if (!impl->storage16)
    return "storageBuffer16BitAccess";
  if (dtype == XFRT_F16 && !impl->float16)
    return "shaderFloat16";
  if (dtype == XFRT_BF16 && !impl->int16)
    return "shaderInt16";
  return nullptr;
}

uint32_t VulkanDevice::maxWorkgroups() const { return impl->properties.limits.maxComputeWorkGroupCount[0]; }

double VulkanDevice::lastKernelSeconds() const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->lastKernelSeconds; // -1 after a recorded dispatch: a batch has no per-dispatch time
}

llvm::Error VulkanDevice::pin(const void *data, size_t bytes, bool resident) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  Impl &d = *impl;
  return d.pinned.pin(
      data, bytes, resident,
      [&](Impl::Buffer &buffer) -> llvm::Error {
        if (llvm::Error err = d.ensureCapacity(buffer, bytes, d.staged ? Impl::Use::Device : Impl::Use::Operand))
          return err;
        if (!bytes || resident)
          return llvm::Error::success();
        if (!d.staged) {
          std::memcpy(buffer.mapped, data, bytes);
          return llvm::Error::success();
        }
        // The copies join the batch. If one cannot, those recorded may copy into this buffer, which goes:
        // they run first.
        if (llvm::Error err = d.upload(buffer, 0, static_cast<const uint8_t *>(data), bytes))
          return llvm::joinErrors(std::move(err), d.flush());
        return llvm::Error::success();
      },
      [&](Impl::Buffer &buffer) { d.destroyBuffer(buffer); });
}

void VulkanDevice::unpin(const void *data) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  impl->pinned.unpin(data, [&](Impl::Buffer &buffer) {
    // Recorded commands may use the buffer: they run before it goes.
    if (impl->batchBuffers.contains(buffer.buffer))
      if (llvm::Error err = impl->flush())
        impl->deferredFailure = "recorded dispatches failed: " + llvm::toString(std::move(err));
    impl->destroyBuffer(buffer);
  });
}

/// The pinned copy of `data` when [offset, offset + bytes) lies within it; `what` names the operation.
static llvm::Expected<PinTable<VulkanDevice::Impl::Buffer>::Found>
pinnedRange(PinTable<VulkanDevice::Impl::Buffer> &pinned, const void *data, size_t offset, size_t bytes,
            const char *what) {
  PinTable<VulkanDevice::Impl::Buffer>::Found pin = pinned.find(data, 0);
  if (!pin.copy)
    return error(llvm::formatv("{0} of an array that is not pinned", what));
  if (offset > pin.bytes || bytes > pin.bytes - offset)
    return error(llvm::formatv("{0} of bytes [{1}, {2}) of a pinned array of {3}", what, offset, offset + bytes,
                               pin.bytes));
  return pin;
}

llvm::Error VulkanDevice::update(const void *data, size_t offset, size_t bytes) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  Impl &d = *impl;
  auto pin = pinnedRange(d.pinned, data, offset, bytes, "update");
  if (!pin)
    return pin.takeError();
  // Staged: a copy recorded after the batch's dispatches, which it follows on the device.
  if (d.staged)
    return d.upload(*pin->copy, offset, static_cast<const uint8_t *>(data) + offset, bytes);
  if (llvm::Error err = d.flush()) // recorded dispatches may read the bytes being replaced
    return err;
  if (bytes)
    std::memcpy(static_cast<uint8_t *>(pin->copy->mapped) + offset, static_cast<const uint8_t *>(data) + offset,
                bytes);
  return llvm::Error::success();
}

llvm::Error VulkanDevice::download(llvm::ArrayRef<HostRange> ranges) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  Impl &d = *impl;
  std::vector<const Impl::Buffer *> copies; // unstaged: read once the batch has run
  for (const HostRange &range : ranges) {
    auto pin = pinnedRange(d.pinned, range.data, range.offset, range.bytes, "download");
    if (!pin)
      return pin.takeError();
    if (!d.staged) {
      copies.push_back(pin->copy);
      continue;
    }
    // Staged: copies into staging after the batch's dispatches, read out once the batch has run.
    for (size_t done = 0; done < range.bytes;) {
      VkDeviceSize chunk = std::min<VkDeviceSize>(range.bytes - done, Impl::kStagingChunk);
      llvm::Expected<VkDeviceSize> at = d.stagingFor(chunk);
      if (!at)
        return at.takeError();
      if (llvm::Error err = d.recordCopy(pin->copy->buffer, range.offset + done, d.staging.buffer, *at, chunk))
        return err;
      d.pendingReads.push_back({static_cast<uint8_t *>(range.data) + range.offset + done, *at, chunk});
      done += chunk;
    }
  }
  if (llvm::Error err = d.flush())
    return err;
  if (d.staged)
    return llvm::Error::success();
  // Every submission ends with the shader writes made visible to the host, after its fence.
  for (auto [range, copy] : llvm::zip_equal(ranges, copies))
    if (range.bytes)
      std::memcpy(static_cast<uint8_t *>(range.data) + range.offset,
                  static_cast<const uint8_t *>(copy->mapped) + range.offset, range.bytes);
  return llvm::Error::success();
}

llvm::Error VulkanDevice::dispatch(const VulkanKernel &kernel, llvm::ArrayRef<VulkanBinding> bindings,
                                   llvm::ArrayRef<int32_t> pushConstants, uint32_t groups) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->dispatch(kernel, bindings, pushConstants, groups);
}

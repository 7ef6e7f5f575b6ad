"""Attribution maps of a network's answer in the input's grid: Grad-CAM and Grad-CAM++, occlusion, gradient
saliency, feature maps, the default target layer and the upsampling they share."""
